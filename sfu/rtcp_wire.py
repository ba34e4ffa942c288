"""Incoming RTCP compound packets read in place: the few fields an SFU routes on.

aiortc's ``RtcpPacket.parse`` builds a dataclass for every sub-packet (SDES items
included) and its router sorts them again with ``isinstance`` chains; the forwarder
needs a handful of fields of four packet types. ``walk`` checks a whole compound with
``struct.unpack_from`` on the datagram itself and lists where those fields are; the
decoders below read them only when someone will take them.

``walk`` accepts exactly the compounds aiortc 1.16 accepts (version 2 everywhere,
lengths within the datagram, padding, report counts matching the length, SDES and BYE
as aiortc reads them, feedback messages holding both their SSRCs, NACKs in whole
words), and like aiortc it rejects the whole compound when any sub-packet is invalid;
on top of that a REMB must hold its header and the SSRCs it announces. Bytes only: no
aiortc import.
"""

from __future__ import annotations

import struct

SR, RR, SDES, BYE, RTPFB, PSFB = 200, 201, 202, 203, 205, 206
FMT_NACK, FMT_TRANSPORT_CC = 1, 15  # RTPFB (RFC 4585 6.2.1, draft-holmer-rmcat-...-01)
FMT_PLI, FMT_FIR, FMT_APP = 1, 4, 15  # PSFB (RFC 4585 6.3.1, RFC 5104 4.3.1, 6.4)

# what ``walk`` lists: (kind, start, end), offsets into the compound
SENDER_INFO = 0  # an SR's SSRC and sender info: ``sender_info``
REPORT_BLOCK = 1  # one report block of an SR or RR (24 bytes): ``report_block``
NACK = 2  # a generic NACK, from its SSRCs to the end of its FCI: ``nack``
PLI = 3  # a picture loss indication: ``media_ssrc``
FIR = 4  # a full intra request: ``fir_ssrcs``
REMB = 5  # a receiver estimated maximum bitrate (PSFB APP "REMB"): ``remb``
TRANSPORT_CC = 6  # transport-wide feedback, its sender SSRC to its end: ``media_ssrc``,
# then ``sfu.transport_feedback.parse_feedback``

Item = tuple[int, int, int]
ReportBlock = tuple[int, int, int, int, int, int, int]

_unpack_header = struct.Struct("!BBH").unpack_from
_WORD = struct.Struct("!I")
_SENDER_INFO = struct.Struct("!IQI")  # SSRC, NTP timestamp, RTP timestamp
_REPORT_BLOCK = struct.Struct("!IIIIII")  # SSRC, fraction|lost, highest, jitter, LSR, DLSR
_NACK_ITEM = struct.Struct("!HH")  # PID, BLP
_REMB = struct.Struct("!BBH")  # SSRC count, exponent|mantissa high bits, mantissa low bits
_SSRC_LISTS = [struct.Struct(f"!{count}I") for count in range(256)]  # a REMB's SSRCs


def walk(data: bytes) -> list[Item] | None:
    """What of a compound packet is worth routing, in order; None if any part is invalid.

    All or nothing, as aiortc: a compound is dispatched only once all of it is checked.
    """
    found: list[Item] = []
    size = len(data)
    pos = 0
    while pos < size:
        if pos + 4 > size:
            return None
        first, packet_type, length = _unpack_header(data, pos)
        if first & 0xC0 != 0x80:  # version 2
            return None
        start = pos + 4
        pos = end = start + 4 * length
        if end > size:
            return None
        if first & 0x20:  # padded: the last octet counts the padding, itself included
            padding = data[end - 1] if end > start else 0
            if not padding or padding > end - start:
                return None
            end -= padding
        count = first & 0x1F  # report or source count; the format of a feedback message
        if packet_type == SR:
            blocks = start + 24
            if end != blocks + 24 * count:
                return None
            found.append((SENDER_INFO, start, blocks))
            for block in range(blocks, end, 24):
                found.append((REPORT_BLOCK, block, block + 24))
        elif packet_type == RR:
            blocks = start + 4
            if end != blocks + 24 * count:
                return None
            for block in range(blocks, end, 24):
                found.append((REPORT_BLOCK, block, block + 24))
        elif packet_type == SDES:
            if not _sdes_valid(data, start, end, count):
                return None
        elif packet_type == PSFB:
            if end - start < 8:
                return None
            if count == FMT_PLI:
                found.append((PLI, start, end))
            elif count == FMT_FIR:
                found.append((FIR, start, end))
            elif count == FMT_APP and data.startswith(b"REMB", start + 8, end):
                if end - start < 16 or end - start < 16 + 4 * data[start + 12]:
                    return None  # a REMB without room for its header or its SSRCs
                found.append((REMB, start, end))
        elif packet_type == RTPFB:
            if end - start < 8:
                return None
            if count == FMT_NACK:
                if (end - start) % 4:
                    return None
                found.append((NACK, start, end))
            elif count == FMT_TRANSPORT_CC:  # padded to a word with the P bit
                found.append((TRANSPORT_CC, start, end))
        elif packet_type == BYE and end - start < 4 * count:
            return None
    return found


def _sdes_valid(data: bytes, start: int, end: int, count: int) -> bool:
    """Whether aiortc would read this SDES: ``count`` chunks of an SSRC and items up to a
    null item, each within the packet (aiortc does not realign chunks to 32 bits)."""
    pos = start
    last = end - 1
    for _ in range(count):
        pos += 4
        if pos > end:
            return False
        while pos < last:
            item_type = data[pos]
            pos += 2 + data[pos + 1]
            if pos > end:
                return False
            if not item_type:
                break
    return True


def sender_info(data: bytes, start: int) -> tuple[int, int, int]:
    """A ``SENDER_INFO``: the sender's SSRC, NTP timestamp and RTP timestamp."""
    return _SENDER_INFO.unpack_from(data, start)


def report_block(data: bytes, start: int) -> ReportBlock:
    """A ``REPORT_BLOCK``: SSRC, fraction lost, cumulative lost (signed 24 bits),
    extended highest sequence number, jitter, LSR and DLSR (RFC 3550 6.4.1)."""
    ssrc, word, highest, jitter, lsr, dlsr = _REPORT_BLOCK.unpack_from(data, start)
    lost = word & 0xFFFFFF
    if lost & 0x800000:
        lost -= 0x1000000
    return ssrc, word >> 24, lost, highest, jitter, lsr, dlsr


def media_ssrc(data: bytes, start: int) -> int:
    """The media source SSRC of a feedback message (``NACK``, ``PLI``, ``FIR``)."""
    ssrc: int = _WORD.unpack_from(data, start + 4)[0]
    return ssrc


def nack(data: bytes, start: int, end: int) -> list[int]:
    """The sequence numbers a ``NACK`` reports lost, each PID then the BLP's bits from
    the lowest, as aiortc lists them, but wrapped at 65536 (aiortc's PID + n is not:
    a loss just before the wrap would name sequence numbers that never exist)."""
    lost: list[int] = []
    for offset in range(start + 8, end, 4):
        pid, blp = _NACK_ITEM.unpack_from(data, offset)
        lost.append(pid)
        bit = 1
        while blp:
            if blp & 1:
                lost.append((pid + bit) & 0xFFFF)
            blp >>= 1
            bit += 1
    return lost


def fir_ssrcs(data: bytes, start: int, end: int) -> list[int]:
    """Whom a ``FIR`` asks for a keyframe: the header's media SSRC (which RFC 5104 sets
    to 0, but aiortc routes on) then the SSRC of each FCI entry (SSRC, seq nr: 8 bytes),
    each once."""
    ssrcs = dict.fromkeys([_WORD.unpack_from(data, start + 4)[0]])
    for entry in range(start + 8, end - 7, 8):
        ssrcs[_WORD.unpack_from(data, entry)[0]] = None
    return list(ssrcs)


def remb(data: bytes, start: int) -> tuple[int, tuple[int, ...]]:
    """A ``REMB``'s bitrate (bit/s, mantissa << exponent) and the SSRCs it is about."""
    count, high, low = _REMB.unpack_from(data, start + 12)
    bitrate = ((high & 0x03) << 16 | low) << (high >> 2)
    return bitrate, _SSRC_LISTS[count].unpack_from(data, start + 16)
