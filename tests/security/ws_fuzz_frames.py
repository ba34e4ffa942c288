"""Hostile signalling frames, generated from a seed: the same seed gives the same frames.

Each case is what a client might send by mistake or on purpose: text that is not JSON,
JSON that is not a frame, frames too large or too deep, msgpack garbage, unknown types,
and every known type with its fields swapped for odd values (wrong types, NaN, huge
numbers, lone surrogates, control characters). ``expect_error`` says whether the
protocol demands an ``error`` (a mutated frame may happen to be valid).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

MAX_FRAME_BYTES = 64 * 1024  # docs/protocol.md: over this, too-large; over 256 KiB, closed

ODD_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "\ud800",
    "a\udfffb",
    "\u202etxt.exe",
    "\x1b[2J",
    "é" * 3000,
    "x" * 70_000,
    "../../etc/passwd",
    "/api/../../secret",
    "//evil.example/x",
    "<script>alert(1)</script>",
    "null",
    "0",
    "-1",
    "1e309",
    "NaN",
    "camera",
    "publish",
    "subscribe",
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n",
)
ODD_NUMBERS: tuple[Any, ...] = (
    0,
    -1,
    1,
    2,
    3,
    7,
    2**31,
    2**63,
    -(2**63),
    10**100,
    0.5,
    -0.0,
    1e308,
    True,
    False,
)
# Python's json reads these non-standard literals: a server using json.loads accepts them.
NON_FINITE_LITERALS = ("NaN", "Infinity", "-Infinity")

TEMPLATES: dict[str, dict[str, Any]] = {
    "join": {"token": "x", "protocol": 1},
    "probe": {"token": "x", "sdp": "v=0", "sources": {"0": "camera"}},
    "publish": {"sdp": "v=0", "sources": {"0": "mic", "1": "camera"}},
    "unpublish": {"source": "screen"},
    "answer": {"pc": "subscribe", "sdp": "v=0"},
    "candidate": {"pc": "publish", "candidate": {"candidate": "", "sdpMid": "0"}},
    "admit": {"participant_id": "nobody"},
    "deny": {"participant_id": "nobody"},
    "chat": {"text": "Bonjour"},
    "file": {
        "url": "/api/bookings/x/files/y",
        "name": "a.pdf",
        "size": 10,
        "mime": "application/pdf",
    },
    "set-quality": {"mode": "auto", "max_layer": 1},
    "restart-ice": {"pc": "subscribe"},
    "ping": {},
}
# Frames that end this connection's part in the call when valid: sent last, or not at all.
ENDING_TYPES = frozenset({"leave", "end"})


@dataclass(frozen=True, slots=True)
class BadFrame:
    kind: str  # what the case is, for the report
    data: str | bytes
    expect_error: bool  # the protocol demands an error (or a close for oversized frames)
    may_close: bool = False  # closing the socket is the documented answer

    def describe(self, limit: int = 120) -> str:
        shown = self.data[:limit]
        more = f"… ({len(self.data)} {'bytes' if isinstance(self.data, bytes) else 'chars'})"
        return f"{self.kind}: {shown!r}{more if len(self.data) > limit else ''}"


def _odd_value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return rng.choice(ODD_STRINGS)
    if roll < 0.6:
        return rng.choice(ODD_NUMBERS)
    if roll < 0.7:
        return None
    if depth > 2:
        return rng.choice(ODD_STRINGS)
    if roll < 0.85:
        return [_odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {
        rng.choice(ODD_STRINGS[:12]): _odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))
    }


def _mutated(rng: random.Random, frame_type: str) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": frame_type, **TEMPLATES[frame_type]}
    fields = [name for name in frame if name != "type"] or ["extra"]
    for name in rng.sample(fields, rng.randint(1, len(fields))):
        frame[name] = _odd_value(rng)
    if rng.random() < 0.2:
        frame["id"] = _odd_value(rng)
    return frame


def _packb(frame: dict[str, Any]) -> bytes:
    """msgpack bytes as a careless client writes them: lone surrogates as they are."""
    return msgpack.packb(_fit(frame), use_bin_type=True, unicode_errors="surrogatepass")


def _fit(value: Any) -> Any:
    """Integers beyond msgpack's 64 bits become its largest one."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if -(2**63) <= value < 2**64 else 2**64 - 1
    if isinstance(value, dict):
        return {key: _fit(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_fit(item) for item in value]
    return value


def _dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame)  # lone surrogates travel as \\u escapes


def _with_non_finite(rng: random.Random, frame_type: str) -> str:
    frame = {"type": frame_type, **TEMPLATES[frame_type]}
    numeric = {"set-quality": "max_layer", "file": "size", "join": "protocol"}
    name = numeric.get(frame_type, "protocol")
    frame[name] = 0
    text = _dumps(frame)
    return text.replace(f'"{name}": 0', f'"{name}": {rng.choice(NON_FINITE_LITERALS)}')


def bad_frames(seed: int, count: int) -> Iterator[BadFrame]:
    """``count`` hostile frames, in a fixed order for a given seed."""
    rng = random.Random(seed)
    fixed = [
        BadFrame("deep-array", "[" * 30_000 + "]" * 30_000, True),
        BadFrame("deep-object", '{"a":' * 10_000 + "1" + "}" * 10_000, True),
        BadFrame("deep-msgpack", b"\x91" * 60_000 + b"\xc0", True),  # fixarray of one, nested
        BadFrame("too-large-text", '{"type":"chat","text":"' + "x" * 70_000 + '"}', True),
        BadFrame("too-large-binary", msgpack.packb({"type": "chat", "text": "x" * 70_000}), True),
        BadFrame("huge-text", "x" * 300_000, True, may_close=True),
        BadFrame("huge-binary", rng.randbytes(1_000_000), True, may_close=True),
        BadFrame("empty-text", "", True),
        BadFrame("empty-binary", b"", True),
        BadFrame("msgpack-bin-keys", msgpack.packb({b"type": b"chat"}), True),
        BadFrame("msgpack-int-keys", msgpack.packb({1: "chat"}), True),
        BadFrame("msgpack-ext", msgpack.packb(msgpack.ExtType(5, b"\x00" * 8)), True),
        BadFrame("msgpack-timestamp", b"\xd6\xff\x00\x00\x00\x00", True),
        BadFrame("msgpack-truncated", msgpack.packb({"type": "chat", "text": "abc"})[:-2], True),
        BadFrame("msgpack-huge-length", b"\xdf\xff\xff\xff\xff", True),
        BadFrame("msgpack-str32-lie", b"\xdb\xff\xff\xff\xf0abc", True),
        BadFrame("msgpack-type-bytes", msgpack.packb({"type": b"chat", "text": "a"}), True),
        BadFrame("unknown-type", _dumps({"type": "nonsense"}), True),
        BadFrame("type-dict", _dumps({"type": {"type": "chat"}}), True),
        BadFrame("lone-surrogate-type", '{"type": "\\ud800"}', True),
        BadFrame("lone-surrogate-chat", '{"type": "chat", "text": "a\\ud800b"}', False),
        BadFrame("nul-chat", '{"type": "chat", "text": "a\\u0000b"}', False),
        BadFrame("duplicate-keys", '{"type": "chat", "type": 1}', True),
    ]
    yield from fixed[:count]
    for _ in range(max(0, count - len(fixed))):
        roll = rng.random()
        frame_type = rng.choice(list(TEMPLATES))
        if roll < 0.15:
            valid = _dumps(_mutated(rng, frame_type))
            cut = rng.randint(0, max(0, len(valid) - 1))
            yield BadFrame("truncated-json", valid[:cut], True)
        elif roll < 0.25:
            yield BadFrame(
                "random-text", "".join(chr(rng.randint(1, 0x2FF)) for _ in range(40)), True
            )
        elif roll < 0.35:
            yield BadFrame("random-binary", rng.randbytes(rng.randint(1, 200)), True)
        elif roll < 0.45:
            packed = _packb(_mutated(rng, frame_type))
            flips = bytearray(packed)
            for _ in range(rng.randint(1, 4)):
                flips[rng.randrange(len(flips))] = rng.randrange(256)
            yield BadFrame("msgpack-bitflip", bytes(flips), False)
        elif roll < 0.55:
            yield BadFrame(f"non-finite-{frame_type}", _with_non_finite(rng, frame_type), False)
        elif roll < 0.6:
            name = "".join(rng.choice("abcxyz-_") for _ in range(rng.randint(1, 30)))
            yield BadFrame("unknown-type", _dumps({"type": name, "id": "u"}), True)
        elif roll < 0.8:
            yield BadFrame(f"mutated-{frame_type}", _dumps(_mutated(rng, frame_type)), False)
        else:
            packed = _packb(_mutated(rng, frame_type))
            yield BadFrame(f"msgpack-mutated-{frame_type}", packed, False)
