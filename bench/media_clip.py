"""A few seconds of VP8 and Opus, encoded once and cached, for cheap synthetic senders.

Encoding is what makes an aiortc participant expensive; a load generator that encodes
live measures itself, not the server. We encode a short clip once (PyAV, libvpx and
libopus), keep the compressed frames on disk, and let every bot resend them.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

CACHE_DIR = Path(__file__).resolve().parent / ".cache"
CACHE_VERSION = 2

VIDEO_FPS = 30
AUDIO_FRAME_MS = 20
AUDIO_RATE = 48_000


@dataclass(frozen=True, slots=True)
class EncodedClip:
    """Compressed frames of one stream; ``frames[0]`` is a keyframe."""

    kind: str  # "audio" | "video"
    frames: tuple[bytes, ...]
    keyframes: tuple[bool, ...]
    frame_duration: Fraction  # seconds per frame
    bitrate_bps: int

    @property
    def keyframe_indexes(self) -> tuple[int, ...]:
        return tuple(i for i, key in enumerate(self.keyframes) if key)


@dataclass(frozen=True, slots=True)
class VideoProfile:
    width: int
    height: int
    bitrate_bps: int
    fps: int = VIDEO_FPS
    seconds: float = 4.0
    keyframe_interval: int = 60

    @property
    def name(self) -> str:
        return f"vp8-{self.width}x{self.height}-{self.bitrate_bps // 1000}k-{self.fps}fps"


VIDEO_640x360 = VideoProfile(640, 360, 600_000)
VIDEO_320x180 = VideoProfile(320, 180, 250_000, fps=15, keyframe_interval=30)


def _moving_picture(profile: VideoProfile, index: int) -> av.VideoFrame:
    """A moving gradient with some texture, so the encoder spends realistic bits."""
    h, w = profile.height, profile.width
    y = np.arange(h, dtype=np.int32)[:, None]
    x = np.arange(w, dtype=np.int32)[None, :]
    t = index * 4
    luma = ((x + t) ^ (y * 2 - t)) & 0xFF
    rng = np.random.default_rng(index)
    luma = (luma + rng.integers(0, 24, size=(h, w))).clip(0, 255).astype(np.uint8)
    planes = np.concatenate(
        [
            luma,
            np.full((h // 2, w), 128 + (index % 60) - 30, dtype=np.uint8).reshape(h // 2, w),
        ]
    )
    frame = av.VideoFrame.from_ndarray(planes.reshape(h * 3 // 2, w), format="yuv420p")
    return frame


def encode_video(profile: VideoProfile) -> EncodedClip:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width = profile.width
    codec.height = profile.height
    codec.pix_fmt = "yuv420p"
    codec.time_base = Fraction(1, profile.fps)
    codec.framerate = Fraction(profile.fps, 1)
    codec.bit_rate = profile.bitrate_bps
    codec.gop_size = profile.keyframe_interval
    codec.options = {
        "deadline": "realtime",
        "cpu-used": "8",
        "lag-in-frames": "0",
        "error-resilient": "1",
        "auto-alt-ref": "0",
    }
    frames: list[bytes] = []
    keyframes: list[bool] = []
    count = round(profile.seconds * profile.fps)
    for index in range(count):
        picture = _moving_picture(profile, index)
        picture.pts = index
        picture.time_base = codec.time_base
        for packet in codec.encode(picture):
            frames.append(bytes(packet))
            keyframes.append(bool(packet.is_keyframe))
    for packet in codec.encode(None):
        frames.append(bytes(packet))
        keyframes.append(bool(packet.is_keyframe))
    if not keyframes or not keyframes[0]:
        raise RuntimeError("the encoded clip does not start on a keyframe")
    duration = Fraction(1, profile.fps)
    bits = sum(len(f) for f in frames) * 8
    return EncodedClip(
        "video", tuple(frames), tuple(keyframes), duration, int(bits / (len(frames) * duration))
    )


def encode_audio(seconds: float = 4.0, bitrate_bps: int = 32_000) -> EncodedClip:
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate = AUDIO_RATE
    codec.layout = "stereo"
    codec.format = "s16"
    codec.bit_rate = bitrate_bps
    codec.options = {"frame_duration": str(AUDIO_FRAME_MS), "application": "voip"}
    samples = AUDIO_RATE * AUDIO_FRAME_MS // 1000
    frames: list[bytes] = []
    count = round(seconds * 1000 / AUDIO_FRAME_MS)
    for index in range(count):
        t = (np.arange(samples) + index * samples) / AUDIO_RATE
        tone = (np.sin(2 * np.pi * (220 + 40 * np.sin(t)) * t) * 8000).astype(np.int16)
        stereo = np.repeat(tone, 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(stereo, format="s16", layout="stereo")
        frame.sample_rate = AUDIO_RATE
        frame.pts = index * samples
        frame.time_base = Fraction(1, AUDIO_RATE)
        frames.extend(bytes(p) for p in codec.encode(frame))
    frames.extend(bytes(p) for p in codec.encode(None))
    duration = Fraction(AUDIO_FRAME_MS, 1000)
    bits = sum(len(f) for f in frames) * 8
    return EncodedClip(
        "audio",
        tuple(frames),
        tuple(True for _ in frames),
        duration,
        int(bits / (len(frames) * duration)),
    )


def _cached(name: str, build: object, cache_dir: Path) -> EncodedClip:
    path = cache_dir / f"{name}.v{CACHE_VERSION}.pickle"
    if path.exists():
        clip = pickle.loads(path.read_bytes())
        if isinstance(clip, EncodedClip):
            return clip
    assert callable(build)
    clip = build()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pickle.dumps(clip))
    tmp.replace(path)
    return clip


def video_clip(profile: VideoProfile = VIDEO_640x360, cache_dir: Path = CACHE_DIR) -> EncodedClip:
    return _cached(profile.name, lambda: encode_video(profile), cache_dir)


def audio_clip(cache_dir: Path = CACHE_DIR) -> EncodedClip:
    return _cached("opus-20ms-32k", encode_audio, cache_dir)
