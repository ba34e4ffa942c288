"""Transport-wide congestion control feedback to a publisher (RTPFB FMT 15).

A browser publishing to us runs Google Congestion Control on its own uplink. Its
delay-based part needs to know when each packet arrived: with only receiver reports and
a REMB ceiling it sees loss, late and coarsely (a publisher on a 150 kb/s uplink kept
sending two to five times that and lost packets at the bottleneck). Negotiating the
transport-wide sequence number extension (draft-holmer-rmcat-transport-wide-cc-
extensions-01) on the publish connection makes it number every packet; the native
``Ingress`` records each one's arrival (``sfu/_datapath.c``) and this module sends the
arrivals back every ``FEEDBACK_INTERVAL_S``, so the browser's own estimator sees queues
build before packets are lost and sends what fits.

``build_feedback`` is the wire format alone (testable without sockets); ``ArrivalLog``
turns raw 16-bit arrivals into the contiguous sequence ranges feedback describes;
``TransportFeedback`` is the owner of the periodic task for one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)

TRANSPORT_CC_URI = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

# libwebrtc's receiver sends feedback every 50-250 ms by bitrate; 100 ms keeps the
# sender's delay estimate fresh at our rates for about 1 % of a 150 kb/s downlink.
FEEDBACK_INTERVAL_S = 0.1
# The feedback travels the publisher's downlink, which it may share with its own
# audio: as libwebrtc (remote_estimator_proxy.cc), at most 5 % of that link, a report
# counted at 68 bytes, and never less often than every 250 ms. Every 100 ms it was
# 9 kb/s of a 60 kb/s downlink that audio alone nearly filled: the queue never drained.
FEEDBACK_SHARE = 0.05
REPORT_BITS = 68 * 8
MAX_FEEDBACK_INTERVAL_S = 0.25
# One feedback describes at most this many sequence numbers (status chunks stay far
# under the MTU); a longer range is sent as several feedback packets.
MAX_STATUSES = 1000
# A jump further than this from what was reported is a restarted sender, not loss.
MAX_GAP = 2000

_RTPFB = 205
_FMT_TRANSPORT_CC = 15
_DELTA_TICK_US = 250  # receive deltas count quarter milliseconds
_REFERENCE_TICK_US = 64_000  # the reference time counts 64 ms

NOT_RECEIVED, SMALL_DELTA, LARGE_DELTA = 0, 1, 2


@dataclass(frozen=True)
class Arrival:
    """One packet of the range: its unwrapped transport-wide sequence number, and its
    arrival in µs on the monotonic clock, or None when it did not arrive."""

    sequence: int
    arrival_us: int | None


def _chunks(symbols: list[int]) -> list[int]:
    """Packet status chunks for ``symbols``: a run-length chunk for a run of 7 or more
    equal symbols (or the last run), status vectors (14 one-bit or 7 two-bit symbols)
    otherwise. Symbols past the end of a vector read "not received"; the packet status
    count tells the reader where to stop."""
    chunks: list[int] = []
    i, count = 0, len(symbols)
    while i < count:
        run = 1
        while i + run < count and symbols[i + run] == symbols[i] and run < 0x1FFF:
            run += 1
        if run >= 7 or i + run == count:
            chunks.append((symbols[i] << 13) | run)  # T=0: run length
            i += run
            continue
        window = symbols[i : i + 14]
        if len(window) == 14 and LARGE_DELTA not in window:
            value = 0x8000  # T=1, S=0: fourteen one-bit symbols
            for position, symbol in enumerate(window):
                value |= symbol << (13 - position)
            chunks.append(value)
            i += 14
            continue
        window = symbols[i : i + 7]
        value = 0xC000  # T=1, S=1: seven two-bit symbols
        for position, symbol in enumerate(window):
            value |= symbol << (12 - 2 * position)
        chunks.append(value)
        i += len(window)
    return chunks


def build_feedback(
    sender_ssrc: int,
    media_ssrc: int,
    arrivals: list[Arrival],
    feedback_count: int,
) -> tuple[bytes, list[Arrival]]:
    """One transport-cc feedback packet for ``arrivals`` (consecutive sequence numbers,
    the first received); returns the packet and the arrivals it could not hold (a
    receive delta out of the 16-bit range, or more than ``MAX_STATUSES``), which start
    the next packet."""
    first = arrivals[0]
    if first.arrival_us is None:
        raise ValueError("a feedback range starts with a received packet")
    reference = first.arrival_us // _REFERENCE_TICK_US
    previous = reference * _REFERENCE_TICK_US  # deltas accumulate from the rounded time
    symbols: list[int] = []
    deltas = bytearray()
    taken = 0
    for arrival in arrivals[:MAX_STATUSES]:
        if arrival.arrival_us is None:
            symbols.append(NOT_RECEIVED)
            taken += 1
            continue
        ticks = round((arrival.arrival_us - previous) / _DELTA_TICK_US)
        if 0 <= ticks <= 0xFF:
            symbols.append(SMALL_DELTA)
            deltas.append(ticks)
        elif -0x8000 <= ticks <= 0x7FFF:
            symbols.append(LARGE_DELTA)
            deltas += struct.pack("!h", ticks)
        else:
            break  # more than 8 s from the previous one: the next packet starts here
        previous += ticks * _DELTA_TICK_US
        taken += 1
    while symbols and symbols[-1] == NOT_RECEIVED:  # a range ends on a received packet
        symbols.pop()
        taken -= 1
    body = struct.pack(
        "!IIHHI",
        sender_ssrc,
        media_ssrc,
        first.sequence & 0xFFFF,
        len(symbols),
        ((reference & 0xFFFFFF) << 8) | (feedback_count & 0xFF),
    )
    body += b"".join(struct.pack("!H", chunk) for chunk in _chunks(symbols)) + bytes(deltas)
    padding = (-len(body)) % 4
    if padding:
        body += bytes(padding - 1) + bytes([padding])
    header = struct.pack(
        "!BBH",
        0x80 | (0x20 if padding else 0) | _FMT_TRANSPORT_CC,
        _RTPFB,
        (len(body) + 4) // 4 - 1,
    )
    return header + body, arrivals[taken:]


def parse_feedback(fci: bytes) -> tuple[int, list[tuple[int, int | None]]]:
    """A subscriber's transport-cc feedback (an RTPFB FMT 15 packet past its 4-byte
    header and padding: sender SSRC, media SSRC, then the FCI): the feedback count, and
    each packet it describes as (16-bit sequence number, arrival µs on the receiver's
    clock or None when not received). ValueError when chunks or deltas overrun it."""
    if len(fci) < 16:
        raise ValueError("transport feedback shorter than its header")
    base, count, packed = struct.unpack_from("!HHI", fci, 8)
    reference = packed >> 8
    if reference & 0x800000:  # 24-bit two's complement
        reference -= 0x1000000
    symbols: list[int] = []
    pos = 16
    while len(symbols) < count:
        if pos + 2 > len(fci):
            raise ValueError("transport feedback: status chunks run past the packet")
        (chunk,) = struct.unpack_from("!H", fci, pos)
        pos += 2
        if not chunk & 0x8000:  # run length
            symbols += [(chunk >> 13) & 0x3] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:  # fourteen one-bit symbols
            symbols += [(chunk >> (13 - i)) & 0x1 for i in range(14)]
        else:  # seven two-bit symbols
            symbols += [(chunk >> (12 - 2 * i)) & 0x3 for i in range(7)]
    arrival = reference * _REFERENCE_TICK_US
    packets: list[tuple[int, int | None]] = []
    for index, symbol in enumerate(symbols[:count]):
        sequence = (base + index) & 0xFFFF
        if symbol == NOT_RECEIVED:
            packets.append((sequence, None))
            continue
        if symbol == SMALL_DELTA:
            if pos + 1 > len(fci):
                raise ValueError("transport feedback: receive deltas run past the packet")
            arrival += fci[pos] * _DELTA_TICK_US
            pos += 1
        elif symbol == LARGE_DELTA:
            if pos + 2 > len(fci):
                raise ValueError("transport feedback: receive deltas run past the packet")
            arrival += struct.unpack_from("!h", fci, pos)[0] * _DELTA_TICK_US
            pos += 2
        else:
            raise ValueError("transport feedback: reserved status symbol")
        packets.append((sequence, arrival))
    return packed & 0xFF, packets


@dataclass
class ArrivalLog:
    """Raw (16-bit sequence, µs) arrivals in, ranges to report out.

    Sequence numbers are unwrapped against the highest seen. A range starts right after
    the last one reported, so a packet never received stays "not received"; a packet
    arriving after its range was reported (reordered by more than an interval) is
    dropped, as the sender has already counted it lost and will see it repaired.
    """

    _highest: int | None = None
    _next: int | None = None  # first sequence number not reported yet
    _pending: dict[int, int] = field(default_factory=dict)

    def add(self, raw: Iterable[tuple[int, int]]) -> None:
        for sequence16, arrival_us in raw:
            if self._highest is None:
                sequence = sequence16
            else:
                delta = (sequence16 - self._highest) & 0xFFFF
                sequence = self._highest + (delta - 0x10000 if delta >= 0x8000 else delta)
            if self._next is not None and abs(sequence - self._next) > MAX_GAP:
                self._pending.clear()  # the sender restarted its numbering
                self._next = None
            if self._next is not None and sequence < self._next:
                continue
            self._pending.setdefault(sequence, arrival_us)
            if self._highest is None or sequence > self._highest:
                self._highest = sequence
            if self._next is None:
                self._next = sequence

    def take(self) -> list[Arrival]:
        """The range from the first unreported sequence number to the highest received."""
        if not self._pending or self._next is None:
            return []
        start = max(self._next, min(self._pending))
        end = max(self._pending)
        arrivals = [Arrival(s, self._pending.get(s)) for s in range(start, end + 1)]
        self._pending.clear()
        self._next = end + 1
        return arrivals


def interval_for(downlink_bps: float | None) -> float:
    """How often to send feedback over a downlink of ``downlink_bps`` (None: unknown)."""
    if downlink_bps is None or downlink_bps <= 0:
        return FEEDBACK_INTERVAL_S
    interval = REPORT_BITS / (FEEDBACK_SHARE * downlink_bps)
    return min(MAX_FEEDBACK_INTERVAL_S, max(FEEDBACK_INTERVAL_S, interval))


class TransportFeedback:
    """Every ``interval_s``, the arrivals of one publish connection back to its sender.

    ``take_arrivals`` returns the raw arrivals recorded since its previous call,
    ``send_rtcp`` protects and sends one RTCP packet (False while not connected).
    """

    def __init__(
        self,
        take_arrivals: Callable[[], list[tuple[int, int]]],
        send_rtcp: Callable[[bytes], bool],
        sender_ssrc: int,
        media_ssrc: Callable[[], int],
        interval_s: float = FEEDBACK_INTERVAL_S,
    ) -> None:
        self._take_arrivals = take_arrivals
        self._send_rtcp = send_rtcp
        self._sender_ssrc = sender_ssrc
        self._media_ssrc = media_ssrc
        self._interval_s = interval_s
        self._log = ArrivalLog()
        self._count = 0
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def interval_s(self) -> float:
        return self._interval_s

    @interval_s.setter
    def interval_s(self, value: float) -> None:
        """From the next round on (``interval_for`` the publisher's downlink)."""
        self._interval_s = value

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="transport-feedback")

    def cancel(self) -> None:
        """Stop at once (the connection is gone; nothing is left to wait for)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def flush(self) -> int:
        """Send what arrived since the last flush; returns the feedback packets sent."""
        self._log.add(self._take_arrivals())
        media_ssrc = self._media_ssrc()
        if not media_ssrc:
            return 0  # no stream known yet: the arrivals wait for the next round
        arrivals = self._log.take()
        sent = 0
        while arrivals:
            packet, arrivals = build_feedback(self._sender_ssrc, media_ssrc, arrivals, self._count)
            while arrivals and arrivals[0].arrival_us is None:
                arrivals = arrivals[1:]  # the next packet starts on a received one
            self._count = (self._count + 1) & 0xFF
            if self._send_rtcp(packet):
                sent += 1
        self.sent += sent
        return sent

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                self.flush()
            except Exception:  # a bug here must not end feedback for the whole call
                log.exception("transport_feedback_failed")
