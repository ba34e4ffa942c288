"""A lean view of one decrypted RTP packet: what a forwarder reads, and nothing more.

aiortc's ``RtpPacket.parse`` builds an object, parses every header extension and copies
the payload; on this machine that is the largest single cost of forwarding a packet.
A forwarder only needs the fixed header (SSRC, sequence number, timestamp, payload
type, marker), where the payload starts, and now and then one extension (audio level,
rid). This view unpacks the fixed header with one ``struct`` call and finds extensions
only when asked. The hot path does the same in C (``_datapath.c``); this view is what
the decisions in Python (a new SSRC, a layer switch, a rebase) are made on.
"""

from __future__ import annotations

import struct

_FIXED = struct.Struct("!BBHII")
_FIXED_HEADER_SIZE = 12
ONE_BYTE_PROFILE = 0xBEDE
TWO_BYTE_PROFILE_MASK = 0xFFF0
TWO_BYTE_PROFILE = 0x1000


class RtpView:
    """Fixed-header fields of a plain (already unprotected) RTP packet, plus its bytes."""

    __slots__ = (
        "arrival_ms",
        "data",
        "extension_end",
        "extension_profile",
        "extension_start",
        "marker",
        "padding",
        "payload_offset",
        "payload_type",
        "sequence_number",
        "ssrc",
        "timestamp",
    )

    def __init__(
        self,
        data: bytes,
        ssrc: int,
        sequence_number: int,
        timestamp: int,
        payload_type: int,
        marker: int,
        padding: int,
        payload_offset: int,
        extension_profile: int,
        extension_start: int,
        extension_end: int,
        arrival_ms: int,
    ) -> None:
        self.data = data
        self.ssrc = ssrc
        self.sequence_number = sequence_number
        self.timestamp = timestamp
        self.payload_type = payload_type
        self.marker = marker
        self.padding = padding
        self.payload_offset = payload_offset
        self.extension_profile = extension_profile
        self.extension_start = extension_start
        self.extension_end = extension_end
        self.arrival_ms = arrival_ms

    @classmethod
    def parse(cls, data: bytes, arrival_ms: int = 0) -> RtpView | None:
        """The view of ``data``, or None when it is not a well-formed RTP packet."""
        size = len(data)
        if size < _FIXED_HEADER_SIZE:
            return None
        first, second, seq, ts, ssrc = _FIXED.unpack_from(data)
        if first >> 6 != 2:
            return None
        pos = _FIXED_HEADER_SIZE + 4 * (first & 0x0F)
        profile = ext_start = ext_end = 0
        if first & 0x10:
            if pos + 4 > size:
                return None
            profile = (data[pos] << 8) | data[pos + 1]
            ext_start = pos + 4
            ext_end = ext_start + 4 * ((data[pos + 2] << 8) | data[pos + 3])
            pos = ext_end
        padding = 0
        if first & 0x20:
            padding = data[-1]
        if pos + padding > size:
            return None
        return cls(
            data,
            ssrc,
            seq,
            ts,
            second & 0x7F,
            second >> 7,
            padding,
            pos,
            profile,
            ext_start,
            ext_end,
            arrival_ms,
        )

    @property
    def payload(self) -> bytes:
        """The media payload (a copy); padding excluded."""
        return self.data[self.payload_offset : len(self.data) - self.padding]

    @property
    def payload_size(self) -> int:
        return len(self.data) - self.payload_offset - self.padding

    def extension(self, extension_id: int) -> bytes | None:
        """The value of one header extension (RFC 8285 one- or two-byte form), if present.

        The walk stops at an element that does not fit its block: its value would be
        the payload's bytes (or, in C, bytes past the packet), never what was sent."""
        if not extension_id or not self.extension_end:
            return None
        data = self.data
        pos = self.extension_start
        end = self.extension_end
        if self.extension_profile == ONE_BYTE_PROFILE:
            while pos < end:
                byte = data[pos]
                if byte == 0:  # padding between elements
                    pos += 1
                    continue
                element_id = byte >> 4
                length = (byte & 0x0F) + 1
                if element_id == 15 or pos + 1 + length > end:
                    return None  # the rest is not to be read, or does not fit the block
                if element_id == extension_id:
                    return data[pos + 1 : pos + 1 + length]
                pos += 1 + length
            return None
        if self.extension_profile & TWO_BYTE_PROFILE_MASK == TWO_BYTE_PROFILE:
            while pos + 1 < end:
                element_id = data[pos]
                if element_id == 0:
                    pos += 1
                    continue
                length = data[pos + 1]
                if pos + 2 + length > end:
                    return None
                if element_id == extension_id:
                    return data[pos + 2 : pos + 2 + length]
                pos += 2 + length
        return None

    def unwrap_rtx(self, payload_type: int, ssrc: int) -> RtpView | None:
        """The original packet carried by this RTX packet (RFC 4588), as a new view."""
        start = self.payload_offset
        if self.payload_size < 2:
            return None  # padding-only probe
        original_seq = (self.data[start] << 8) | self.data[start + 1]
        first = self.data[0] & 0xE0  # keep version and padding; drop CSRCs and extensions
        header = _FIXED.pack(
            first, (self.marker << 7) | payload_type, original_seq, self.timestamp, ssrc
        )
        return RtpView.parse(header + self.data[start + 2 :], self.arrival_ms)
