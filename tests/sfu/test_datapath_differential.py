"""The C datapath and RtpView read the same bytes the same way, malformed ones included.

The decisions in Python are made on ``RtpView``; C repeats them on its own reading of
the packet. Both are fed the same random and mutated RTP: their header fields and every
extension they find must agree, and C must never read outside the packet (the sanitizer
build of ``test_datapath_sanitized.py`` runs this file too).
"""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu import _datapath
from sfu._datapath import Counters, Egress, Ingress, LayerInlet, Track, aead_srtp
from sfu.rtp_view import RtpView

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KNOWN_SSRC = 0x5EED


@st.composite
def extension_blocks(draw: st.DrawFn) -> bytes:
    """An RFC 8285 block: one-byte, two-byte or another profile, elements well-formed or
    not, the declared length right or wrong."""
    profile = draw(st.sampled_from([0xBEDE, 0x1000, 0x100F, 0x1234]))
    body = b""
    for _ in range(draw(st.integers(0, 5))):
        element_id = draw(st.integers(0, 15 if profile == 0xBEDE else 255))
        if profile == 0xBEDE:
            length = draw(st.integers(1, 16))
            body += bytes([element_id << 4 | (length - 1)])
        else:
            length = draw(st.integers(0, 20))
            body += bytes([element_id, length])
        body += draw(st.binary(min_size=0, max_size=length))  # may be short of its length
        body += b"\x00" * draw(st.integers(0, 2))  # padding between elements
    words = (len(body) + 3) // 4
    declared = draw(st.one_of(st.just(words), st.integers(0, 8)))
    return struct.pack("!HH", profile, declared) + body + b"\x00" * (4 * words - len(body))


@st.composite
def rtp_packets(draw: st.DrawFn) -> bytes:
    """Plain RTP as a forwarder may get it: CSRCs, extensions, padding, then mutated."""
    csrcs = draw(st.integers(0, 3))
    extension = draw(st.one_of(st.none(), extension_blocks()))
    payload = draw(st.binary(min_size=0, max_size=24))
    padding = draw(st.integers(0, 8))
    first = 0x80 | csrcs | (0x10 if extension is not None else 0) | (0x20 if padding else 0)
    data = struct.pack(
        "!BBHII",
        first,
        draw(st.integers(0, 255)),
        draw(st.integers(0, 0xFFFF)),
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.sampled_from([KNOWN_SSRC, 0x1234])),
    )
    data += os.urandom(4 * csrcs) + (extension or b"") + payload
    if padding:
        data += bytes(padding - 1) + bytes([draw(st.integers(0, 255))])
    mutated = bytearray(data)
    for _ in range(draw(st.integers(0, 3))):  # mutations
        kind = draw(st.sampled_from(["truncate", "flip", "set"]))
        if not mutated:
            break
        index = draw(st.integers(0, len(mutated) - 1))
        if kind == "truncate":
            del mutated[index:]
        elif kind == "flip":
            mutated[index] ^= 1 << draw(st.integers(0, 7))
        else:
            mutated[index] = draw(st.integers(0, 255))
    return bytes(mutated)


def assert_same_reading(data: bytes) -> None:
    view = RtpView.parse(data)
    header = _datapath.parse_header(data)
    if view is None:
        assert header is None
        for element_id in range(16):
            assert _datapath.header_extension(data, element_id) is None
        return
    assert header == (
        view.ssrc,
        view.sequence_number,
        view.timestamp,
        view.payload_type,
        view.marker,
        view.padding,
        view.payload_offset,
        view.extension_profile,
        view.extension_start,
        view.extension_end,
    )
    ids = set(range(16))
    if view.extension_end:  # the ids actually in the block too (two-byte ones go to 255)
        ids.update(data[view.extension_start : min(view.extension_end, len(data))])
    for element_id in sorted(ids):
        assert _datapath.header_extension(data, element_id) == view.extension(element_id), (
            element_id
        )


@SETTINGS
@given(rtp_packets())
def test_c_and_python_read_mutated_rtp_alike(data: bytes) -> None:
    assert_same_reading(data)


@SETTINGS
@given(st.binary(min_size=0, max_size=64))
def test_c_and_python_read_random_bytes_alike(data: bytes) -> None:
    assert_same_reading(bytes([0x80 | (data[0] & 0x3F)]) + data[1:] if data else data)
    assert_same_reading(data)


def test_an_extension_element_at_the_packets_last_byte_is_not_read_past_it() -> None:
    """The block ends with the packet and its last element's value would follow it."""
    header = struct.pack("!BBHII", 0x90, 96, 1, 2, 3)
    one_byte = header + bytes((0xBE, 0xDE, 0, 1, 0, 0, 0, 0x22))  # id 2, 3 bytes, none here
    two_byte = header + bytes((0x10, 0x00, 0, 1, 0, 0, 7, 4))  # id 7, 4 bytes, none here
    for data, element_id in ((one_byte, 2), (two_byte, 7)):
        assert RtpView.parse(data) is not None
        assert _datapath.header_extension(data, element_id) is None
        assert RtpView.parse(data).extension(element_id) is None  # type: ignore[union-attr]
    inside = header + bytes((0xBE, 0xDE, 0, 1, 0x22, 1, 2, 3))  # the same element, whole
    assert _datapath.header_extension(inside, 2) == b"\x01\x02\x03"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rtp_packets(), min_size=1, max_size=12), st.binary(max_size=40))
def test_mutated_datagrams_through_ingress_inlet_and_track_never_break_them(
    packets: list[bytes], noise: bytes
) -> None:
    """A bounded fuzz of the whole native path: SRTP, parse, audio level, rewrite (VP8
    descriptor included)."""
    master = bytes(range(28))
    sender = aead_srtp(master)
    counters = Counters()
    decided: list[int] = []
    steady = Track(Egress(), counters, 0xBEEF, 16)
    steady.configure(111, b"0", 1, 3, 4)
    steady.current_layer = 0
    steady.vp8 = 1  # its payloads are read as VP8 and renumbered, whatever they hold
    switching = Track(Egress(), counters, 0xF00D, 16)
    switching.configure(111, b"", 0, 0, 0)
    switching.current_layer, switching.target_layer = 1, 0
    switching.forward = lambda view, layer, level: decided.append(view.sequence_number)
    inlet = LayerInlet(counters, [steady, switching], 0)
    inlet.audio_level_id = 1
    ingress = Ingress()
    ingress.attach(aead_srtp(master), lambda plain: None, lambda plain: None, None)
    ingress.inlets[KNOWN_SSRC] = inlet
    well_formed = 0
    for data in packets:
        known = RtpView.parse(data)
        if known is not None and known.ssrc == KNOWN_SSRC:
            well_formed += 1
            inlet.deliver(data, 0)
        protected = sender.protect(data)
        ingress(protected if protected is not None else data, ("127.0.0.1", 1))
        ingress(noise + data, ("127.0.0.1", 1))
    assert inlet.packets >= well_formed
    assert len(decided) == inlet.packets
