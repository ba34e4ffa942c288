"""Keyframe detection from the RTP payload, so a consumer starts or switches cleanly."""

from __future__ import annotations


def is_vp8_keyframe(payload: bytes) -> bool:
    """True for the first packet of a VP8 keyframe (RFC 7741 payload descriptor)."""
    if len(payload) < 2:
        return False
    first = payload[0]
    if not first & 0x10 or first & 0x07:  # S bit set and partition index 0
        return False
    pos = 1
    if first & 0x80:  # X: extended control bits
        ext = payload[1]
        pos = 2
        if ext & 0x80:  # I: picture id, 7 or 15 bits
            if pos >= len(payload):
                return False
            pos += 2 if payload[pos] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            pos += 1
        if ext & 0x30:  # T or K: TID/Y/KEYIDX
            pos += 1
    if pos >= len(payload):
        return False
    return not payload[pos] & 0x01  # P bit clear: keyframe


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


def keyframe_detector(mime_type: str) -> object:
    mime = mime_type.lower()
    if mime == "video/vp8":
        return is_vp8_keyframe
    if mime == "video/h264":
        return is_h264_keyframe
    return None
