"""Raw RTP replay: one task per process sends every bot's media, pre-packetized.

aiortc's ``av.Packet`` path still costs, per bot and frame, a ``recv()`` with its own
timer, an ``av.Packet``, the VP8 packetizer and a coroutine chain. A load generator
does not need any of it: the clip is packetized once, and a single pump task, ticking
every few milliseconds, writes each sender's due packets from a header template,
protects them with the DTLS transport's SRTP session and sends them on the nominated
ICE pair's socket, all synchronously, keeping the sender's counters and RTP history so
sender reports and NACK retransmissions still work. Keyframe requests restart the
clip at its first (key)frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpCodecParameters, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RtpPacket

from bench.media_clip import EncodedClip
from bench.receive_stats import CountingPeerConnection, ReceiveStats
from bench.synthetic_tracks import KEYFRAME_RESTART_MIN_INTERVAL_S, PacketTrack

TICK_S = 0.005
RTP_HISTORY_SIZE = 128  # as aiortc's sender
_SENDER = "_RTCRtpSender__"


@dataclass(frozen=True, slots=True)
class PacketizedClip:
    payloads: tuple[tuple[bytes, ...], ...]  # RTP payloads of each frame
    timestamp_step: int  # RTP clock ticks per frame
    period_s: float

    @classmethod
    def of(cls, clip: EncodedClip) -> PacketizedClip:
        if clip.kind == "video":
            payloads = tuple(
                tuple(Vp8Encoder._packetize(frame, index % (1 << 15)))
                for index, frame in enumerate(clip.frames)
            )
            rate = 90_000
        else:
            payloads = tuple((frame,) for frame in clip.frames)
            rate = 48_000
        return cls(payloads, int(clip.frame_duration * rate), float(clip.frame_duration))


_packetized: dict[int, PacketizedClip] = {}


def packetized(clip: EncodedClip) -> PacketizedClip:
    key = id(clip)
    if key not in _packetized:
        _packetized[key] = PacketizedClip.of(clip)
    return _packetized[key]


_HEADER = struct.Struct("!BBHII")  # V/P/X/CC, M/PT, sequence, timestamp, SSRC
NTP_EPOCH_OFFSET_S = 2_208_988_800  # 1900-01-01 to 1970-01-01
ABS_SEND_TIME_PROBE = b"\xab\xcd\xef"


def ntp_time() -> int:
    """64-bit NTP time, as ``aiortc.clock.current_ntp_time`` without its datetime work."""
    return int((time.time() + NTP_EPOCH_OFFSET_S) * (1 << 32))


class _History:
    """The sender's RTP history, kept as tuples; an ``RtpPacket`` is built only when the
    server asks for a retransmission (aiortc's NACK handling calls ``get``)."""

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream
        self.entries: list[tuple[int, int, int, bytes, int] | None] = [None] * RTP_HISTORY_SIZE

    def get(self, key: int, default: RtpPacket | None = None) -> RtpPacket | None:
        entry = self.entries[key % RTP_HISTORY_SIZE]
        return default if entry is None else self.stream.packet(*entry)


class _Stream:
    """One sender's position in its clip and its RTP state.

    Packets are written from a header template (the extension block aiortc would
    serialize, with the 24-bit abs-send-time patched per frame), protected and sent on
    the nominated ICE pair directly, without aiortc's coroutine chain per packet.
    """

    def __init__(self, sender: RTCRtpSender, clip: PacketizedClip, codec: Any) -> None:
        self.sender = sender
        self.clip = clip
        self.payload_type = int(codec.payloadType)
        self.extensions_map = getattr(sender, _SENDER + "rtp_header_extensions_map")
        self.mid = getattr(sender, _SENDER + "mid")
        self.ssrc = int(sender._ssrc)
        self.history = _History(self)
        setattr(sender, _SENDER + "rtp_history", self.history)
        self.sequence = random.randrange(1 << 16)
        self.timestamp = random.randrange(1 << 32)
        self.index = 0
        self.next_due = time.monotonic()
        self.last_restart = 0.0
        self.packets = 0
        self.octets = 0
        self.first_byte, self.extension, self.abs_offset = self._header_template()
        self._dtls: Any = sender.transport
        self._wire: tuple[Callable[[bytes], bytes], Any, Any] | None = None

    def packet(
        self, sequence: int, timestamp: int, marker: int, payload: bytes, abs_send_time: int
    ) -> RtpPacket:
        """The packet aiortc would have built (for retransmissions)."""
        packet = RtpPacket(
            payload_type=self.payload_type,
            marker=marker,
            sequence_number=sequence,
            timestamp=timestamp,
            ssrc=self.ssrc,
            payload=payload,
        )
        packet.extensions.abs_send_time = abs_send_time
        packet.extensions.mid = self.mid
        return packet

    def extension_block(self, abs_send_time: int) -> bytes:
        """The header extensions of one frame's packets (only abs-send-time changes)."""
        if self.abs_offset is None:
            return self.extension
        at = self.abs_offset
        return self.extension[:at] + abs_send_time.to_bytes(3, "big") + self.extension[at + 3 :]

    def serialize(
        self, sequence: int, timestamp: int, marker: int, payload: bytes, abs_send_time: int
    ) -> bytes:
        """The packet as aiortc's ``RtpPacket.serialize`` would write it."""
        header = _HEADER.pack(
            self.first_byte, (marker << 7) | self.payload_type, sequence, timestamp, self.ssrc
        )
        return header + self.extension_block(abs_send_time) + payload

    def _header_template(self) -> tuple[int, bytes, int | None]:
        """First byte, extension block and where abs-send-time sits in it, read off
        aiortc's own serialization of a probe packet."""
        probe = self.packet(0, 0, 0, b"", int.from_bytes(ABS_SEND_TIME_PROBE, "big"))
        data = probe.serialize(self.extensions_map)
        extension = data[12:]
        offset = extension.find(ABS_SEND_TIME_PROBE)
        return data[0], extension, (offset if offset >= 0 else None)

    def _bind(self) -> tuple[Callable[[bytes], bytes], Any, Any]:
        """SRTP protect and the nominated pair's UDP socket, once DTLS is up."""
        dtls = self._dtls
        if dtls is None or dtls._state != DtlsState.CONNECTED or dtls._tx_srtp is None:
            raise ConnectionError("not connected")
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            raise ConnectionError("no nominated pair")
        self._wire = (dtls._tx_srtp.protect, pair.protocol.transport, pair.remote_addr)
        return self._wire

    def restart_at_keyframe(self) -> None:
        now = time.monotonic()
        if now - self.last_restart >= KEYFRAME_RESTART_MIN_INTERVAL_S and self.index != 0:
            self.last_restart = now
            self.index = 0

    def send_due(self, now: float) -> None:
        if now - self.next_due > 1.0:  # far behind (overload): skip, don't burst
            self.next_due = now
        if self.next_due > now:
            return
        if self._dtls._state != DtlsState.CONNECTED:
            self._wire = None
            raise ConnectionError("not connected")
        protect, udp, address = self._wire or self._bind()
        entries = self.history.entries
        clip = self.clip
        pack = _HEADER.pack
        first_byte, payload_type, ssrc = self.first_byte, self.payload_type, self.ssrc
        sequence, timestamp = self.sequence, self.timestamp
        while self.next_due <= now:
            payloads = clip.payloads[self.index]
            last = len(payloads) - 1
            ntp = ntp_time()
            abs_send_time = (ntp >> 14) & 0x00FFFFFF
            extension = self.extension_block(abs_send_time)
            for i, payload in enumerate(payloads):
                marker = 1 if i == last else 0
                entries[sequence % RTP_HISTORY_SIZE] = (
                    sequence, timestamp, marker, payload, abs_send_time
                )  # fmt: skip
                header = pack(first_byte, (marker << 7) | payload_type, sequence, timestamp, ssrc)
                udp.sendto(protect(header + extension + payload), address)
                sequence = (sequence + 1) & 0xFFFF
                self.octets += len(payload)
            self.sequence = sequence
            self.packets += len(payloads)
            setattr(self.sender, _SENDER + "packet_count", self.packets)
            setattr(self.sender, _SENDER + "octet_count", self.octets)
            setattr(self.sender, _SENDER + "ntp_timestamp", ntp)
            setattr(self.sender, _SENDER + "rtp_timestamp", timestamp)
            timestamp = self.timestamp = (timestamp + clip.timestamp_step) & 0xFFFFFFFF
            self.index = (self.index + 1) % len(clip.payloads)
            self.next_due += clip.period_s


class RtpPump:
    """Sends the due packets of every attached sender, every ``TICK_S``."""

    def __init__(self) -> None:
        self.streams: set[_Stream] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="rtp-pump")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def attach(self, sender: RTCRtpSender, track: PacketTrack) -> None:
        """Take over ``sender``'s RTP loop (call before the sender starts)."""
        pump = self

        async def run_rtp(codec: RTCRtpCodecParameters) -> None:
            getattr(sender, _SENDER + "rtp_started").set()
            stream = _Stream(sender, packetized(track.clip), codec)
            track.keyframe_listener = stream.restart_at_keyframe
            pump.streams.add(stream)
            pump.start()
            try:
                await asyncio.Event().wait()  # until the sender stops (cancels us)
            except asyncio.CancelledError:
                pass
            finally:
                pump.streams.discard(stream)
                getattr(sender, _SENDER + "rtp_exited").set()

        sender._run_rtp = run_rtp  # type: ignore[method-assign]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            for stream in list(self.streams):
                try:
                    stream.send_due(now)
                except (ConnectionError, OSError, RuntimeError):
                    stream.next_due = now + TICK_S  # not connected yet, or gone


_pumps: dict[int, RtpPump] = {}
enabled = True  # False: aiortc's own av.Packet path (PacketTrack.recv) sends instead


def pump_for_running_loop() -> RtpPump:
    key = id(asyncio.get_running_loop())
    if key not in _pumps:
        _pumps[key] = RtpPump()
    return _pumps[key]


async def close_pump() -> None:
    pump = _pumps.pop(id(asyncio.get_running_loop()), None)
    if pump is not None:
        await pump.close()


class BotPeerConnection(CountingPeerConnection):
    """Counts received RTP; its ``PacketTrack`` senders are driven by the pump."""

    def __init__(self, stats: ReceiveStats, **kwargs: Any) -> None:
        super().__init__(stats, **kwargs)
        self._pumped: set[int] = set()

    async def setRemoteDescription(self, sessionDescription: RTCSessionDescription) -> None:
        if enabled:
            for transceiver in self.getTransceivers():
                track = transceiver.sender.track
                if isinstance(track, PacketTrack) and id(transceiver) not in self._pumped:
                    self._pumped.add(id(transceiver))
                    pump_for_running_loop().attach(transceiver.sender, track)
        await super().setRemoteDescription(sessionDescription)
