"""Frame encoding: JSON text frames, or msgpack binary frames for clients that ask.

The wire format is chosen once per connection by the WebSocket subprotocol; the
server still reads either kind of frame, so a client may mix while debugging.
"""

from __future__ import annotations

import json
from typing import Any

import msgpack

from signaling.errors import FrameRefused

MSGPACK_SUBPROTOCOL = "visioguichet.msgpack"
JSON_SUBPROTOCOL = "visioguichet.json"
SUBPROTOCOLS = (MSGPACK_SUBPROTOCOL, JSON_SUBPROTOCOL)


def decode_text(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FrameRefused("bad-frame", "frame is not valid JSON") from exc
    if "\\u" in data and _has_lone_surrogate(value):
        # JSON's \ud800 escape is the one way to a string no UTF-8 can carry: echoed in a
        # chat or a ref, it would fail every socket it is written to, the sender's too.
        raise FrameRefused("bad-frame", "frame holds a lone UTF-16 surrogate (\\ud800-\\udfff)")
    return _as_frame(value)


def _has_lone_surrogate(value: object) -> bool:
    pending = [value]
    while pending:  # iterative: a deep frame cannot exhaust the stack
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def decode_binary(data: bytes) -> dict[str, Any]:
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated exception types
        raise FrameRefused("bad-frame", "frame is not valid msgpack") from exc
    return _as_frame(value)


def _as_frame(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise FrameRefused("bad-frame", "frame must be an object")
    if not isinstance(value.get("type"), str):
        raise FrameRefused("bad-frame", "frame has no string 'type'", field="type")
    return value


def encode_text(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def encode_binary(frame: dict[str, Any]) -> bytes:
    packed: bytes = msgpack.packb(frame, use_bin_type=True)
    return packed
