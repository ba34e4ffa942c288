"""A loopback aiortc client driven straight through the SFU's Python API (no signalling).

It publishes generated audio and video and answers the SFU's subscribe offers, counting
the frames it decodes per track, so tests can check media end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from av import AudioFrame, VideoFrame

from bench.ice_pinning import restrict_host_addresses
from sfu import Participant, SubscriptionOffer

VIDEO_CLOCK = 90_000
STUCK_S = 1.0
AUDIO_RATE = 48_000


class PatternVideoTrack(MediaStreamTrack):
    """Moving colour bars at a fixed size, so a receiver can check what it decodes."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240, fps: int = 15) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = np.zeros((self.height, self.width, 3), dtype=np.uint8)
        shift = (self._count * 4) % self.width
        image[:, :, 0] = (np.arange(self.width)[None, :] + shift) % 256
        image[:, :, 1] = 128
        frame = VideoFrame.from_ndarray(image, format="bgr24")
        frame.pts = self._count * VIDEO_CLOCK // self.fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    """A 440 Hz tone in 20 ms frames."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._samples = 0
        self._start: float | None = None

    async def recv(self) -> AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._samples / AUDIO_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        count = AUDIO_RATE // 50
        t = (np.arange(count) + self._samples) / AUDIO_RATE
        data = (np.sin(2 * math.pi * 440 * t) * 8000).astype(np.int16).reshape(1, -1)
        frame = AudioFrame.from_ndarray(data, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._samples
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._samples += count
        return frame


@dataclass
class ReceivedTrack:
    mid: str
    kind: str
    frames: int = 0
    width: int = 0
    height: int = 0
    last_frame_at: float = 0.0
    widths: list[int] = field(default_factory=list)


class LoopbackClient:
    """One participant's two peer connections, driven by the test (bounded everywhere)."""

    def __init__(self, participant: Participant, addresses: Sequence[str] = ("127.0.0.1",)) -> None:
        self.participant = participant
        self.addresses = tuple(addresses)
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.received: dict[str, ReceivedTrack] = {}
        self.tracks_by_mid: dict[str, Any] = {}
        self._readers: list[asyncio.Task[None]] = []
        self.last_offer: SubscriptionOffer | None = None

    async def publish(
        self, audio: bool = True, video: bool = True, width: int = 320, screen: bool = False
    ) -> None:
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.publish_pc = pc
        sources: dict[str, str] = {}
        if audio:
            pc.addTransceiver(ToneAudioTrack(), direction="sendonly")
        if video:
            pc.addTransceiver(
                PatternVideoTrack(width=width, height=width * 3 // 4), direction="sendonly"
            )
        if screen:
            pc.addTransceiver(PatternVideoTrack(width=640, height=360, fps=5), direction="sendonly")
        restrict_host_addresses(pc, self.addresses)
        await pc.setLocalDescription(await pc.createOffer())
        for transceiver in pc.getTransceivers():
            sources[str(transceiver.mid)] = "mic" if transceiver.kind == "audio" else "camera"
        if screen:
            sources[str(pc.getTransceivers()[-1].mid)] = "screen"
        assert pc.localDescription is not None
        answer = await self.participant.publish(pc.localDescription.sdp, sources=sources)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def sync_subscription(self) -> bool:
        """Answer the SFU's subscribe offer if it has one; True when it did."""
        offer = await self.participant.subscription_offer()
        if offer is None:
            return False
        self.last_offer = offer
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(
                RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
            )
            self.subscribe_pc.on("track", self._on_track)
            self._readers.append(asyncio.create_task(self._recover_like_a_browser()))
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        restrict_host_addresses(pc, self.addresses)
        await pc.setLocalDescription(await pc.createAnswer())
        assert pc.localDescription is not None
        await self.participant.subscription_answer(pc.localDescription.sdp)
        return True

    def _on_track(self, track: Any) -> None:
        assert self.subscribe_pc is not None
        mid = next(
            (str(t.mid) for t in self.subscribe_pc.getTransceivers() if t.receiver.track is track),
            track.id,
        )
        received = ReceivedTrack(mid=mid, kind=track.kind)
        self.received[mid] = received
        self.tracks_by_mid[mid] = track
        self._readers.append(asyncio.create_task(self._read(track, received)))

    async def _read(self, track: Any, received: ReceivedTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                received.frames += 1
                received.last_frame_at = time.monotonic()
                if isinstance(frame, VideoFrame):
                    received.width, received.height = frame.width, frame.height
                    if not received.widths or received.widths[-1] != frame.width:
                        received.widths.append(frame.width)
        except Exception:
            return

    async def _recover_like_a_browser(self) -> None:
        """Loss recovery as a browser does it, which aiortc's receiver lacks.

        aiortc NACKs a missing packet once, and its video jitter buffer then waits for
        it until 512 packets have passed (half a minute of a low layer). Chrome, when a
        frame stays incomplete, gives it up and requests a keyframe. This task does the
        same for our subscribe connection: after ``STUCK_S`` without progress past a
        missing packet, it flushes the buffer and sends a PLI.
        """
        stuck_since: dict[int, tuple[int, float]] = {}
        while True:
            await asyncio.sleep(0.25)
            pc = self.subscribe_pc
            if pc is None:
                continue
            for transceiver in pc.getTransceivers():
                receiver: Any = transceiver.receiver
                if transceiver.kind != "video" or receiver.track is None:
                    continue
                nacks = receiver._RTCRtpReceiver__nack_generator
                buffer = receiver._RTCRtpReceiver__jitter_buffer
                ssrc = next(iter(receiver._RTCRtpReceiver__remote_streams), None)
                if ssrc is None or nacks is None:
                    continue
                with contextlib.suppress(ConnectionError):
                    origin, since = stuck_since.get(id(receiver), (-1, time.monotonic()))
                    if buffer._origin != origin or not nacks.missing:
                        stuck_since[id(receiver)] = (buffer._origin, time.monotonic())
                    elif time.monotonic() - since > STUCK_S:
                        buffer.remove(buffer.capacity)
                        buffer._origin = None
                        nacks.missing.clear()
                        stuck_since.pop(id(receiver), None)
                        await receiver._send_rtcp_pli(ssrc)

    def frames(self, kind: str) -> int:
        return sum(r.frames for r in self.received.values() if r.kind == kind)

    async def packets_received(self, kind: str) -> int:
        """RTP packets our subscribe connection received for ``kind`` (inbound-rtp stats)."""
        if self.subscribe_pc is None:
            return 0
        total = 0
        for transceiver in self.subscribe_pc.getTransceivers():
            if transceiver.kind != kind:
                continue
            report = await transceiver.receiver.getStats()
            for stats in report.values():
                if getattr(stats, "type", None) == "inbound-rtp":
                    total += int(stats.packetsReceived)
        return total

    async def wait_for_packets(self, kind: str, count: int, timeout_s: float = 20.0) -> int:
        """``packets_received(kind)`` once it reaches ``count``, or after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if await self.packets_received(kind) >= count:
                break
            await asyncio.sleep(0.2)
        return await self.packets_received(kind)

    async def wait_for_frames(self, kind: str, count: int, timeout_s: float = 20.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.frames(kind) >= count:
                break
            await asyncio.sleep(0.1)
        return self.frames(kind)

    async def close(self) -> None:
        for task in self._readers:
            task.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()


async def connect_pair(a: LoopbackClient, b: LoopbackClient, timeout_s: float = 10.0) -> None:
    """Publish on both, then answer subscribe offers until both have the other's tracks."""
    await a.publish()
    await b.publish()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        await a.sync_subscription()
        await b.sync_subscription()
        if (
            len(a.participant.consumers) >= 2
            and len(b.participant.consumers) >= 2
            and not (
                a.participant.dump()["offer_outstanding"]
                or b.participant.dump()["offer_outstanding"]
            )
        ):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("subscriptions did not settle")


def free_udp_port_range(size: int) -> tuple[int, int]:
    """A small range of UDP ports that were free a moment ago on 127.0.0.1."""
    import socket

    for _ in range(50):
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        low = probe.getsockname()[1]
        probe.close()
        if low + size > 65535:
            continue
        sockets = []
        try:
            for port in range(low, low + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return low, low + size - 1
    raise RuntimeError("no free UDP port range")
