"""Media tracks that resend a pre-encoded clip as ``av.Packet``s, paced in real time.

aiortc's sender packs an ``av.Packet`` without encoding (``Encoder.pack``), so a bot
costs RTP packetizing and SRTP only. The clip loops on its first frame, a keyframe;
a keyframe request (PLI/FIR from the far end) restarts the clip there, at most once
a second, because the ``pack`` path ignores aiortc's own force-keyframe flag.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from fractions import Fraction

import av
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.mediastreams import MediaStreamError

from bench.media_clip import EncodedClip

KEYFRAME_RESTART_MIN_INTERVAL_S = 1.0
_AUDIO_TIME_BASE = Fraction(1, 48_000)
_VIDEO_TIME_BASE = Fraction(1, 90_000)


class PacketTrack(MediaStreamTrack):
    """An audio or video track whose ``recv()`` returns the clip's next encoded frame."""

    def __init__(self, clip: EncodedClip) -> None:
        super().__init__()
        self.kind = clip.kind
        self.clip = clip
        self.keyframe_listener: Callable[[], None] | None = None  # set when a pump sends
        self._index = 0
        self._sent = 0
        self._time_base = _AUDIO_TIME_BASE if clip.kind == "audio" else _VIDEO_TIME_BASE
        self._pts_step = int(clip.frame_duration / self._time_base)
        self._period_s = float(clip.frame_duration)
        self._start: float | None = None
        self._last_restart = 0.0
        self.frames_sent = 0
        self.keyframe_restarts = 0
        self.keyframe_requests = 0  # PLI/FIR received from the server

    def request_keyframe(self) -> None:
        """Restart at the clip's first keyframe (throttled): cheaper than re-encoding."""
        self.keyframe_requests += 1
        if self.keyframe_listener is not None:
            self.keyframe_listener()
            return
        now = time.monotonic()
        if now - self._last_restart >= KEYFRAME_RESTART_MIN_INTERVAL_S and self._index != 0:
            self._last_restart = now
            self._index = 0
            self.keyframe_restarts += 1

    async def recv(self) -> av.Packet:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._sent * self._period_s
        if due > now:
            await asyncio.sleep(due - now)
        elif now - due > 1.0:  # we fell far behind (overload): skip ahead, don't burst
            self._start = now - self._sent * self._period_s
        packet = av.Packet(self.clip.frames[self._index])
        packet.pts = self._sent * self._pts_step
        packet.time_base = self._time_base
        self._sent += 1
        self._index = (self._index + 1) % len(self.clip.frames)
        self.frames_sent += 1
        return packet


def route_keyframe_requests(sender: RTCRtpSender, track: PacketTrack) -> None:
    """Make the far end's PLI/FIR on ``sender`` restart ``track`` at a keyframe."""
    if track.kind == "video":
        sender._send_keyframe = track.request_keyframe  # type: ignore[method-assign]
