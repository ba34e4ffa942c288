"""Raw RTP replay: one task per process sends every bot's media, pre-packetized.

aiortc's ``av.Packet`` path still costs, per bot and frame, a ``recv()`` with its own
timer, an ``av.Packet``, the VP8 packetizer and a coroutine chain. A load generator
does not need any of it: the clip is packetized once, and a single pump task, ticking
every few milliseconds, writes each sender's due packets straight to its DTLS
transport (SRTP protect + send), keeping the sender's counters and RTP history so
sender reports and NACK retransmissions still work. Keyframe requests restart the
clip at its first (key)frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCRtpCodecParameters, RTCRtpSender, RTCSessionDescription
from aiortc import clock as aiortc_clock
from aiortc.codecs.vpx import Vp8Encoder
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


class _Stream:
    """One sender's position in its clip and its RTP state."""

    def __init__(self, sender: RTCRtpSender, clip: PacketizedClip, codec: Any) -> None:
        self.sender = sender
        self.clip = clip
        self.payload_type = int(codec.payloadType)
        self.extensions_map = getattr(sender, _SENDER + "rtp_header_extensions_map")
        self.mid = getattr(sender, _SENDER + "mid")
        self.history: dict[int, RtpPacket] = getattr(sender, _SENDER + "rtp_history")
        self.sequence = random.randrange(1 << 16)
        self.timestamp = random.randrange(1 << 32)
        self.index = 0
        self.next_due = time.monotonic()
        self.last_restart = 0.0
        self.packets = 0

    def restart_at_keyframe(self) -> None:
        now = time.monotonic()
        if now - self.last_restart >= KEYFRAME_RESTART_MIN_INTERVAL_S and self.index != 0:
            self.last_restart = now
            self.index = 0

    async def send_due(self, now: float) -> None:
        if now - self.next_due > 1.0:  # far behind (overload): skip, don't burst
            self.next_due = now
        sender = self.sender
        transport = sender.transport
        while self.next_due <= now:
            payloads = self.clip.payloads[self.index]
            last = len(payloads) - 1
            abs_send_time = (aiortc_clock.current_ntp_time() >> 14) & 0x00FFFFFF
            for i, payload in enumerate(payloads):
                packet = RtpPacket(
                    payload_type=self.payload_type,
                    marker=1 if i == last else 0,
                    sequence_number=self.sequence,
                    timestamp=self.timestamp,
                    ssrc=sender._ssrc,
                    payload=payload,
                )
                packet.extensions.abs_send_time = abs_send_time
                packet.extensions.mid = self.mid
                self.history[self.sequence % RTP_HISTORY_SIZE] = packet
                await transport._send_rtp(packet.serialize(self.extensions_map))
                self.sequence = (self.sequence + 1) & 0xFFFF
                self.packets += 1
                setattr(sender, _SENDER + "packet_count", self.packets)
                octets = getattr(sender, _SENDER + "octet_count") + len(payload)
                setattr(sender, _SENDER + "octet_count", octets)
            setattr(sender, _SENDER + "ntp_timestamp", aiortc_clock.current_ntp_time())
            setattr(sender, _SENDER + "rtp_timestamp", self.timestamp)
            self.timestamp = (self.timestamp + self.clip.timestamp_step) & 0xFFFFFFFF
            self.index = (self.index + 1) % len(self.clip.payloads)
            self.next_due += self.clip.period_s


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
                    await stream.send_due(now)
                except ConnectionError:
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
