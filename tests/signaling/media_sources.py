"""Synthetic media for tests: each publisher's video has its own colour and its audio
its own pitch, so a receiver can tell whose frames it decoded."""

from __future__ import annotations

import asyncio
import fractions
import math
import time

import av
import numpy as np
from aiortc import MediaStreamTrack

VIDEO_CLOCK = 90_000
AUDIO_RATE = 48_000
AUDIO_SAMPLES = 960  # 20 ms


class ColourVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(
        self, rgb: tuple[int, int, int], *, width: int = 320, height: int = 240, fps: int = 15
    ) -> None:
        super().__init__()
        self._image = np.zeros((height, width, 3), dtype=np.uint8)
        self._image[:, :] = rgb
        self._fps = fps
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count / self._fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        frame = av.VideoFrame.from_ndarray(self._image, format="rgb24")
        frame.pts = self._count * VIDEO_CLOCK // self._fps
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return frame


class ToneAudioTrack(MediaStreamTrack):
    kind = "audio"

    def __init__(self, frequency_hz: float) -> None:
        super().__init__()
        self._frequency = frequency_hz
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count * AUDIO_SAMPLES / AUDIO_RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        t = (np.arange(AUDIO_SAMPLES) + self._count * AUDIO_SAMPLES) / AUDIO_RATE
        samples = (np.sin(2 * math.pi * self._frequency * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._count * AUDIO_SAMPLES
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._count += 1
        return frame
