"""Hostile datagrams for an ICE port, generated from a seed: the same seed, the same bytes.

Each is shaped like one of the protocols multiplexed on the port (RFC 7983: STUN, DTLS,
RTP/RTCP) so that it gets past the first-byte demultiplexing into that protocol's parser,
then broken: lengths that lie, truncated headers, unknown attributes and record types,
padding longer than the packet — or plain random bytes.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator

STUN_COOKIE = 0x2112A442
STUN_TYPES = (0x0001, 0x0101, 0x0111, 0x0011, 0x0003, 0x0004)
STUN_ATTRIBUTES = (
    0x0006,  # USERNAME
    0x0008,  # MESSAGE-INTEGRITY
    0x8028,  # FINGERPRINT
    0x0024,  # PRIORITY
    0x0025,  # USE-CANDIDATE
    0x8029,  # ICE-CONTROLLED
    0x802A,  # ICE-CONTROLLING
    0x0020,  # XOR-MAPPED-ADDRESS
    0x0001,  # MAPPED-ADDRESS
    0x0009,  # ERROR-CODE
    0x000A,  # UNKNOWN-ATTRIBUTES
    0x0014,  # REALM
)


def _length_that_may_lie(rng: random.Random, true_length: int) -> int:
    roll = rng.random()
    if roll < 0.5:
        return true_length
    if roll < 0.7:
        return 0
    if roll < 0.85:
        return 0xFFFF
    return rng.randrange(0x10000)


def stun(rng: random.Random) -> bytes:
    attributes = b""
    for _ in range(rng.randint(0, 6)):
        kind = rng.choice(STUN_ATTRIBUTES) if rng.random() < 0.8 else rng.randrange(0x10000)
        value = rng.randbytes(rng.choice((0, 1, 2, 3, 4, 8, 20, rng.randint(0, 64))))
        length = _length_that_may_lie(rng, len(value))
        padding = b"\x00" * (-len(value) % 4) if rng.random() < 0.7 else b""
        attributes += struct.pack("!HH", kind, length) + value + padding
    cookie = STUN_COOKIE if rng.random() < 0.85 else rng.randrange(2**32)
    message_type = rng.choice(STUN_TYPES) if rng.random() < 0.85 else rng.randrange(0x4000)
    length = _length_that_may_lie(rng, len(attributes))
    header = struct.pack("!HHI", message_type, length, cookie) + rng.randbytes(12)
    datagram = header + attributes
    return datagram[: rng.randint(1, len(datagram))] if rng.random() < 0.1 else datagram


def dtls(rng: random.Random) -> bytes:
    records = b""
    for _ in range(rng.randint(1, 3)):
        content_type = rng.choice((20, 21, 22, 23, 24, 25))
        version = rng.choice((b"\xfe\xfd", b"\xfe\xff", b"\x03\x03", rng.randbytes(2)))
        epoch = rng.choice((0, 1, rng.randrange(0x10000)))
        sequence = rng.randbytes(6)
        if content_type == 22 and rng.random() < 0.7:  # a handshake message in the record
            body_length = rng.randint(0, 300)
            handshake = (
                bytes([rng.choice((1, 2, 3, 11, 12, 14, 16, 20, rng.randrange(256)))])
                + _length_that_may_lie(rng, body_length).to_bytes(3, "big")[-3:]
                + rng.randbytes(2)  # message sequence
                + rng.randbytes(3)  # fragment offset
                + rng.randint(0, body_length).to_bytes(3, "big")  # fragment length
                + rng.randbytes(body_length)
            )
            body = handshake
        elif content_type == 21:
            body = bytes([rng.choice((1, 2)), rng.randrange(256)])  # an alert
        else:
            body = rng.randbytes(rng.randint(0, 200))
        length = _length_that_may_lie(rng, len(body))
        records += (
            bytes([content_type]) + version + struct.pack("!H", epoch) + sequence
            + struct.pack("!H", length) + body
        )  # fmt: skip
    return records


def rtp(rng: random.Random, ssrcs: tuple[int, ...] = ()) -> bytes:
    csrc_count = rng.randrange(16)
    padding = rng.random() < 0.2
    extension = rng.random() < 0.3
    first = 0x80 | (0x20 if padding else 0) | (0x10 if extension else 0) | csrc_count
    payload_type = rng.choice((96, 97, 98, 100, 111, 0, rng.randrange(128)))
    second = (0x80 if rng.random() < 0.3 else 0) | payload_type
    ssrc = rng.choice(ssrcs) if ssrcs and rng.random() < 0.5 else rng.randrange(2**32)
    header = bytes([first, second]) + struct.pack(
        "!HII", rng.randrange(0x10000), rng.randrange(2**32), ssrc
    )
    header += rng.randbytes(4 * rng.randint(0, csrc_count))  # maybe fewer CSRCs than said
    if extension:
        words = rng.randint(0, 4)
        header += struct.pack(
            "!HH", rng.choice((0xBEDE, 0x1000, rng.randrange(0x10000))), rng.choice((words, 0xFFFF))
        )
        header += rng.randbytes(4 * words)
    payload = rng.randbytes(rng.randint(0, 1200))
    if padding:
        payload += bytes([rng.randrange(256)])  # padding count, maybe beyond the packet
    return header + payload


def rtcp(rng: random.Random, ssrcs: tuple[int, ...] = ()) -> bytes:
    packets = b""
    for _ in range(rng.randint(1, 4)):
        count = rng.randrange(32)
        packet_type = rng.choice((200, 201, 202, 203, 204, 205, 206, 207, rng.randrange(192, 224)))
        body = b""
        if ssrcs and rng.random() < 0.5:
            body += struct.pack("!I", rng.choice(ssrcs))
        body += rng.randbytes(4 * rng.randint(0, 12))
        length = _length_that_may_lie(rng, len(body) // 4)
        packets += bytes([0x80 | count, packet_type]) + struct.pack("!H", length) + body
    return packets


def garbage(rng: random.Random) -> bytes:
    return rng.randbytes(rng.choice((0, 1, 2, 3, rng.randint(4, 1500))))


def datagrams(seed: int, count: int, ssrcs: tuple[int, ...] = ()) -> Iterator[tuple[str, bytes]]:
    """``count`` (kind, datagram) pairs; ``ssrcs`` are real ones to forge RTP/RTCP with."""
    rng = random.Random(seed)
    makers: tuple[tuple[str, Callable[[random.Random], bytes]], ...] = (
        ("stun", stun),
        ("dtls", dtls),
        ("rtp", lambda r: rtp(r, ssrcs)),
        ("rtcp", lambda r: rtcp(r, ssrcs)),
        ("random", garbage),
    )
    for _ in range(count):
        kind, make = rng.choice(makers)
        yield kind, make(rng)
