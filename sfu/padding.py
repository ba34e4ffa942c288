"""Padding-only RTP packets: the bytes a bandwidth probe sends a subscriber.

A receiver's delay-based estimator (Chrome's REMB) only measures what arrives on video
streams, padding included, and only packets stamped with ``abs-send-time``. To learn
whether a link carries the next layer before sending it (and to keep measuring while
video is paused), the SFU sends packets that carry nothing: RTP padding (RFC 3550 5.1,
the last octet counts the padding), on a video stream's RTX SSRC so the media stream's
sequence numbers, and a receiver's NACKs, are untouched; libwebrtc pads the same way.
"""

from __future__ import annotations

import struct

PADDING_BYTES = 255  # the most one packet can say (one count octet), as libwebrtc and LiveKit
ABS_SEND_TIME_UNITS_PER_S = 1 << 18  # 6.18 fixed point, 24 bits
# last in its egress batch, after audio and video: a probe measures spare room, it never
# delays media (Egress.send's priority; retransmissions on the same RTX SSRC may pass it)
PADDING_PRIORITY = -1

_HEADER = struct.Struct("!BBHII")
_PAYLOAD = bytes(PADDING_BYTES - 1) + bytes([PADDING_BYTES])


def padding_packet(
    payload_type: int,
    sequence_number: int,
    timestamp: int,
    ssrc: int,
    now: float,
    abs_send_time_id: int = 0,
    mid_id: int = 0,
    mid: bytes = b"",
) -> bytes:
    """One plain (not yet protected) padding-only packet; ``now``: monotonic seconds, the
    clock the forwarder stamps media with (one-byte header extensions, RFC 8285)."""
    elements = b""
    if 0 < mid_id < 15 and 0 < len(mid) <= 16:
        elements += bytes([mid_id << 4 | (len(mid) - 1)]) + mid
    if 0 < abs_send_time_id < 15:
        value = int(now * ABS_SEND_TIME_UNITS_PER_S) & 0xFFFFFF
        elements += bytes([abs_send_time_id << 4 | 2]) + value.to_bytes(3, "big")
    first = 0xA0  # version 2, padding
    extension = b""
    if elements:
        first |= 0x10
        words = (len(elements) + 3) // 4
        extension = struct.pack("!HH", 0xBEDE, words) + elements + bytes(4 * words - len(elements))
    header = _HEADER.pack(
        first,
        payload_type & 0x7F,
        sequence_number & 0xFFFF,
        timestamp & 0xFFFFFFFF,
        ssrc & 0xFFFFFFFF,
    )
    return header + extension + _PAYLOAD
