"""The VP8 payload descriptor (RFC 7741 4.2): read it, and renumber its pictures.

Chrome tells VP8 frames apart by PictureID and TL0PICIDX, not by RTP sequence numbers,
and each simulcast layer may start both at its own random value. Forwarded as they come, a
layer switch hands the receiver a jump in both, which its reference finder and frame
buffer refuse: the picture froze for seconds after each switch. A consumer therefore
renumbers them as it renumbers sequence numbers: after a rebase the first packet
carries the last value sent + 1, and later pictures keep the publisher's distance from
it. The native track does this for every packet (``_datapath.c``); this module is the
same rule in Python, which the tests compare it with, and what decisions read.
"""

from __future__ import annotations

from dataclasses import dataclass

PICTURE_ID_MASK = 0x7FFF
TL0_PIC_IDX_MASK = 0xFF
KEY_IDX_MASK = 0x1F


@dataclass(frozen=True, slots=True)
class Vp8Descriptor:
    """The fields of one packet's descriptor (None: absent)."""

    size: int
    start_of_partition: bool
    partition_index: int
    picture_id: int | None = None
    picture_id_bits: int = 0  # 7 or 15
    tl0_pic_idx: int | None = None
    key_idx: int | None = None  # only when K is set
    tid_offset: int = 0  # where the TID/Y/KEYIDX byte is (0: none)


def parse(payload: bytes) -> Vp8Descriptor | None:
    """The descriptor at the start of ``payload``, or None when it does not fit."""
    if not payload:
        return None
    first = payload[0]
    start, partition = bool(first & 0x10), first & 0x07
    if not first & 0x80:
        return Vp8Descriptor(1, start, partition)
    if len(payload) < 2:
        return None
    extension = payload[1]
    pos = 2
    picture_id = tl0_pic_idx = key_idx = None
    picture_id_bits = tid_offset = 0
    if extension & 0x80:  # I
        if pos >= len(payload):
            return None
        if payload[pos] & 0x80:
            if pos + 2 > len(payload):
                return None
            picture_id = ((payload[pos] & 0x7F) << 8) | payload[pos + 1]
            picture_id_bits = 15
            pos += 2
        else:
            picture_id = payload[pos]
            picture_id_bits = 7
            pos += 1
    if extension & 0x40:  # L
        if pos >= len(payload):
            return None
        tl0_pic_idx = payload[pos]
        pos += 1
    if extension & 0x30:  # T or K
        if pos >= len(payload):
            return None
        if extension & 0x10:
            key_idx = payload[pos] & 0x1F
        tid_offset = pos
        pos += 1
    return Vp8Descriptor(
        pos, start, partition, picture_id, picture_id_bits, tl0_pic_idx, key_idx, tid_offset
    )


@dataclass(slots=True)
class Vp8Numbering:
    """One consumer's renumbering: per field, the newest publisher value (``*_in``;
    -1: the next packet continues at ``*_out`` + 1) and what it became."""

    picture_id_in: int = -1
    picture_id_out: int = 0
    tl0_pic_idx_in: int = -1
    tl0_pic_idx_out: int = 0
    key_idx_in: int = -1
    key_idx_out: int = 0

    def resync(self) -> None:
        """The next packet starts a new run (a layer switch, a resume): continue by one."""
        self.picture_id_in = self.tl0_pic_idx_in = self.key_idx_in = -1

    def _map(self, field: str, value: int, bits: int, mask: int) -> int:
        """``value`` renumbered: its distance from the newest value seen, modulo its own
        width (a 7-bit PictureID wraps at 128), added to what that one became."""
        last_in: int = getattr(self, field + "_in")
        last_out: int = getattr(self, field + "_out")
        if last_in < 0:
            out = (last_out + 1) & mask
            setattr(self, field + "_in", value)
            setattr(self, field + "_out", out)
            return out
        modulus = 1 << bits
        distance = (value - last_in) % modulus
        if distance >= modulus // 2:
            distance -= modulus  # an older picture, reordered
        out = (last_out + distance) & mask
        if distance > 0:
            setattr(self, field + "_in", value)
            setattr(self, field + "_out", out)
        return out


def rewrite(payload: bytes, numbering: Vp8Numbering) -> bytes:
    """``payload`` (no RTP padding) with its descriptor renumbered, the PictureID in 15
    bits; unchanged when it has no descriptor that fits."""
    descriptor = parse(payload)
    if descriptor is None:
        return payload
    out = bytearray(payload[:1])
    if payload[0] & 0x80:
        out.append(payload[1])
        if descriptor.picture_id is not None:
            picture_id = numbering._map(
                "picture_id", descriptor.picture_id, descriptor.picture_id_bits, PICTURE_ID_MASK
            )
            out += bytes((0x80 | picture_id >> 8, picture_id & 0xFF))
        if descriptor.tl0_pic_idx is not None:
            out.append(numbering._map("tl0_pic_idx", descriptor.tl0_pic_idx, 8, TL0_PIC_IDX_MASK))
        if descriptor.tid_offset:
            byte = payload[descriptor.tid_offset]
            if descriptor.key_idx is not None:
                key_idx = numbering._map("key_idx", descriptor.key_idx, 5, KEY_IDX_MASK)
                byte = (byte & 0xE0) | key_idx
            out.append(byte)
    return bytes(out) + payload[descriptor.size :]
