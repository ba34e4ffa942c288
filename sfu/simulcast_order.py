"""Which simulcast encoding is which layer: by what each carries, not by SDP order.

Layers are numbered lowest first (0 is the smallest picture), and ``max_layer``,
``quality.layer``, layer selection and dynacast all use those numbers. ``a=simulcast``
lists rids in the sender's order: browsers list ``sendEncodings`` as the page gave
them, and a sender listing the largest encoding first is legal (some SDKs do). Taken
as is, "top layer" would then be the 160×90 one. So the SDP order is only a first
guess (after ``max-width``/``max-height``, ``max-br`` restrictions where every rid has
one: ``sfu.simulcast_sdp``); once the first packet of every layer has been seen, a VP8
keyframe's picture size (RFC 6386 §9.1: 14-bit width and height after the start code
``9d 01 2a``) orders them, larger pictures higher, equal sizes by the SDP order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sfu.vp8_descriptor import parse as parse_vp8

_START_CODE = b"\x9d\x01\x2a"


def vp8_picture_size(payload: bytes) -> tuple[int, int] | None:
    """Width and height of the VP8 keyframe this RTP payload starts, or None."""
    descriptor = parse_vp8(payload)
    if descriptor is None or not descriptor.start_of_partition or descriptor.partition_index:
        return None
    frame = payload[descriptor.size :]
    if len(frame) < 10:
        return None
    if frame[0] & 0x01 or frame[3:6] != _START_CODE:  # P bit set: an inter frame
        return None
    width = int.from_bytes(frame[6:8], "little") & 0x3FFF
    height = int.from_bytes(frame[8:10], "little") & 0x3FFF
    return (width, height) if width and height else None


def order_by_picture(rids: Sequence[str], sizes: Mapping[str, tuple[int, int]]) -> list[str] | None:
    """``rids`` lowest layer first by picture area (stable for equal areas), or None
    until every rid's size is known."""
    if any(rid not in sizes for rid in rids):
        return None
    return sorted(rids, key=lambda rid: sizes[rid][0] * sizes[rid][1])
