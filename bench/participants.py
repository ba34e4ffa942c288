"""Synthetic call participants: send a pre-encoded clip, count what comes back.

The same bot joins either our service (``bench.our_bot``) or Janus's VideoRoom
(``bench.janus_bot``), so both servers carry exactly the same media.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiortc import RTCPeerConnection

from bench.media_clip import (
    EncodedClip,
    VIDEO_320x180,
    VIDEO_640x360,
    VideoProfile,
    audio_clip,
    video_clip,
)
from bench.receive_stats import ReceiveStats
from bench.synthetic_tracks import PacketTrack, route_keyframe_requests

CONNECT_TIMEOUT_S = 20.0


@dataclass(frozen=True, slots=True)
class CallProfile:
    """What one call looks like: how many participants, what each one sends."""

    name: str
    description: str
    participants: int
    video: VideoProfile | None


PROFILES: dict[str, CallProfile] = {
    "video": CallProfile("video", "1:1 audio+video 640x360 30 fps", 2, VIDEO_640x360),
    "video-small": CallProfile("video-small", "1:1 audio+video 320x180 15 fps", 2, VIDEO_320x180),
    "audio": CallProfile("audio", "1:1 audio only (Opus 20 ms)", 2, None),
    "group3": CallProfile("group3", "group of 3, audio+video 640x360", 3, VIDEO_640x360),
}


@dataclass(frozen=True, slots=True)
class Clips:
    audio: EncodedClip
    video: EncodedClip | None

    @classmethod
    def for_profile(cls, profile: CallProfile) -> Clips:
        return cls(audio_clip(), video_clip(profile.video) if profile.video else None)


def sender_packets(pc: RTCPeerConnection | None) -> int:
    if pc is None:
        return 0
    return sum(
        int(getattr(t.sender, "_RTCRtpSender__packet_count", 0)) for t in pc.getTransceivers()
    )


def srtp_profile(pc: RTCPeerConnection | None) -> str | None:
    """The SRTP protection profile the DTLS handshake chose (e.g. SRTP_AEAD_AES_256_GCM)."""
    if pc is None:
        return None
    for transceiver in pc.getTransceivers():
        ssl = getattr(transceiver.sender.transport, "_ssl", None)
        if ssl is not None:
            try:
                return bytes(ssl.get_selected_srtp_profile()).decode()
            except Exception:
                return None
    return None


async def wait_connected(pc: RTCPeerConnection, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    async with asyncio.timeout(timeout_s):
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed"):
                raise ConnectionError(f"peer connection {pc.connectionState}")
            await asyncio.sleep(0.05)


class Bot:
    """Shared part of both kinds of participant: tracks, counters, timings."""

    def __init__(self, name: str, clips: Clips) -> None:
        self.name = name
        self.stats = ReceiveStats()
        self.audio = PacketTrack(clips.audio)
        self.video = PacketTrack(clips.video) if clips.video is not None else None
        self.started_at: float | None = None
        self.published_at: float | None = None
        self.error: str | None = None
        self.marks: list[tuple[str, float]] = []  # (phase ended, monotonic time)
        self.events: dict[str, float] = {}  # other moments (subscribe offer), first time only

    def note_once(self, event: str) -> None:
        self.events.setdefault(event, time.monotonic())

    def mark(self, phase: str) -> None:
        """Timestamp the end of one join phase (to see where a slow join waits)."""
        self.marks.append((phase, time.monotonic()))

    async def close(self) -> None:
        """Leave and close the connections (each kind of participant has its own)."""
        raise NotImplementedError

    @property
    def phases_s(self) -> dict[str, float]:
        """Duration of each join phase, from ``started_at`` through the marks."""
        if self.started_at is None:
            return {}
        out: dict[str, float] = {}
        previous = self.started_at
        for phase, at in self.marks:
            out[phase] = at - previous
            previous = at
        return out

    @property
    def tracks(self) -> dict[str, PacketTrack]:
        tracks = {"mic": self.audio}
        if self.video is not None:
            tracks["camera"] = self.video
        return tracks

    @property
    def join_s(self) -> float | None:
        """From the first request to media flowing out (published and connected)."""
        if self.started_at is None or self.published_at is None:
            return None
        return self.published_at - self.started_at

    @property
    def media_start_s(self) -> float | None:
        """From the first request to the first packet received from another participant."""
        first = self.stats.first_packet_at
        if self.started_at is None or first is None:
            return None
        return first - self.started_at

    def packets_sent(self) -> int:
        raise NotImplementedError

    def keyframe_requests(self) -> int:
        """Keyframe requests (PLI/FIR) the server sent this publisher so far."""
        return self.video.keyframe_requests if self.video is not None else 0

    def srtp_profile(self) -> str | None:
        raise NotImplementedError

    def _route_keyframes(self, pc: RTCPeerConnection) -> None:
        for transceiver in pc.getTransceivers():
            if transceiver.sender.track is self.video and self.video is not None:
                route_keyframe_requests(transceiver.sender, self.video)
