"""Keyframe detection from the RTP payload, so a consumer starts or switches cleanly."""

from __future__ import annotations

from collections.abc import Callable

from sfu.vp8_descriptor import parse as parse_vp8

KeyframeDetector = Callable[[bytes], bool]  # a payload → whether it starts a keyframe


def is_vp8_keyframe(payload: bytes) -> bool:
    """True for the first packet of a VP8 keyframe (RFC 7741 payload descriptor)."""
    descriptor = parse_vp8(payload)
    if descriptor is None or not descriptor.start_of_partition or descriptor.partition_index:
        return False
    size = descriptor.size
    return size < len(payload) and not payload[size] & 0x01  # P bit clear: keyframe


def is_h264_keyframe(payload: bytes) -> bool:
    """True when the packet carries an IDR slice or SPS (single NAL, STAP-A or FU-A start)."""
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type in (5, 7):
        return True
    if nal_type == 24:  # STAP-A
        pos = 1
        while pos + 2 < len(payload):
            size = (payload[pos] << 8) | payload[pos + 1]
            if pos + 2 < len(payload) and payload[pos + 2] & 0x1F in (5, 7):
                return True
            pos += 2 + size
        return False
    if nal_type == 28 and len(payload) > 1:  # FU-A
        return bool(payload[1] & 0x80) and payload[1] & 0x1F == 5
    return False


def keyframe_detector(mime_type: str) -> KeyframeDetector | None:
    mime = mime_type.lower()
    if mime == "video/vp8":
        return is_vp8_keyframe
    if mime == "video/h264":
        return is_h264_keyframe
    return None
