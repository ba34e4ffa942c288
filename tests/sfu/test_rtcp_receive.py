"""Incoming RTCP: ``FastPath`` walks a compound packet in place (``sfu.rtcp_wire``) and
routes it as aiortc's parser and router did: checked against aiortc's ``RtcpPacket.parse``
on generated and corrupted compounds, FIRs also routed by the SSRCs of their FCI, and,
through the real SFU, reports and keyframe requests reaching producers and consumers."""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiortc.rtcdtlstransport import RtpRouter
from aiortc.rtp import (
    RTCP_PSFB,
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_remb_fci,
    pack_rtcp_packet,
    unpack_remb_fci,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sfu.aiortc.fast_path
from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.aiortc import FastPath, ForwardingReceiver, ForwardingSender

# --- a FastPath on aiortc's router, with recording sinks ---------------------------------

RECEIVERS = {0x1000: "rx_a", 0x1001: "rx_a", 0x1002: "rx_b"}  # rx_a: two simulcast layers
SENDERS = {0x2000: "tx_1", 0x2001: "tx_2"}
MUTE_SENDER = 0x2002  # registered, but its sink is gone (a consumer being closed)
UNKNOWN = 0x3000
POOL = (*RECEIVERS, *SENDERS, MUTE_SENDER, UNKNOWN, 0)

Events = dict[str, list[tuple[Any, ...]]]


class StubDtls:
    """What a ``FastPath`` and a ``ForwardingSender`` touch of an ``RTCDtlsTransport``."""

    state = "new"

    def __init__(self) -> None:
        self._rtp_router = RtpRouter()

    def on(self, event: str, handler: Callable[[], None]) -> None:
        return None


class RecordingSink:
    """Both sink protocols, recording each call (and checking the types passed)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_rtp(self, packet: Any) -> None:
        return None

    def rtx_primary(self, packet: Any) -> int | None:
        return None

    def on_sender_report(self, ssrc: int, ntp: int, rtp_timestamp: int) -> None:
        self.events.append(("sr", ssrc, ntp, rtp_timestamp))

    def on_receiver_report(self, report: RtcpReceiverInfo) -> None:
        assert type(report) is RtcpReceiverInfo
        self.events.append(("rr", report))

    def on_nack(self, sequence_numbers: list[int]) -> None:
        assert type(sequence_numbers) is list
        self.events.append(("nack", sequence_numbers))

    def on_keyframe_request(self) -> None:
        self.events.append(("keyframe",))

    def on_remb(self, bitrate_bps: int) -> None:
        assert type(bitrate_bps) is int
        self.events.append(("remb", bitrate_bps))

    def on_transport_feedback(self, feedback: bytes) -> None:
        assert type(feedback) is bytes
        self.events.append(("twcc", feedback))


class Harness:
    def __init__(self) -> None:
        self.dtls = StubDtls()
        self.fast_path = FastPath(self.dtls)  # type: ignore[arg-type]
        router = self.dtls._rtp_router
        self.sinks: dict[str, RecordingSink] = {}
        for ssrc, name in RECEIVERS.items():
            if name not in self.sinks:
                self.sinks[name] = RecordingSink()
                receiver = ForwardingReceiver("video", self.dtls)  # type: ignore[arg-type]
                receiver.sink = self.sinks[name]
            router.ssrc_table[ssrc] = receiver
        for ssrc, name in {**SENDERS, MUTE_SENDER: ""}.items():
            # routing reads a sender's sink only; aiortc's __init__ wants an event loop
            sender = ForwardingSender.__new__(ForwardingSender)
            sender._ssrc = ssrc
            sender.sink = None
            if name:
                self.sinks[name] = RecordingSink()
                sender.sink = self.sinks[name]
            router.senders[ssrc] = sender

    def receive(self, data: bytes) -> tuple[Events, bool]:
        """The events one compound dispatched, and whether it was rejected."""
        for sink in self.sinks.values():
            sink.events.clear()
        rejected = self.fast_path.rtcp_rejected
        self.fast_path._receive_rtcp(data)
        events = {name: list(sink.events) for name, sink in self.sinks.items() if sink.events}
        return events, self.fast_path.rtcp_rejected == rejected + 1


def sub_packets_of(data: bytes) -> list[bytes] | None:
    """A compound cut at its headers' lengths, as aiortc's parser walks it (None: a
    header or length it refuses)."""
    parts, pos = [], 0
    while pos < len(data):
        if pos + 4 > len(data) or data[pos] >> 6 != 2:
            return None
        end = pos + 4 + 4 * struct.unpack_from("!H", data, pos + 2)[0]
        if end > len(data):
            return None
        parts.append(data[pos:end])
        pos = end
    return parts


def transport_feedback_of(part: bytes) -> tuple[int, bytes] | None:
    """A transport-cc feedback sub-packet's (media SSRC, body past its header, padding
    removed), which aiortc would refuse when its padding leaves a partial word; None
    for any other sub-packet. ValueError when its padding or length is invalid."""
    if part[1] != RTCP_RTPFB or part[0] & 0x1F != 15:
        return None
    body = part[4:]
    if part[0] & 0x20:
        if not body or not body[-1] or body[-1] > len(body):
            raise ValueError("bad padding")
        body = body[: -body[-1]]
    if len(body) < 8:
        raise ValueError("shorter than its SSRCs")
    return struct.unpack_from("!I", body, 4)[0], body


def expected(data: bytes) -> Events | None:
    """The reference: aiortc's ``RtcpPacket.parse``, routed as aiortc's ``RtpRouter`` routes
    (SR to the receiver of its SSRC, report blocks and feedback to the sender of theirs, a
    REMB to the senders it names) and as our receivers and senders took it, plus a FIR
    routed by its FCI's SSRCs, and transport-wide feedback (which aiortc ignores and
    refuses when, as libwebrtc pads it, its padding leaves a partial word) to the sender
    of its media SSRC. None where the compound must be dropped whole: aiortc rejects it,
    or a REMB's FCI is shorter than its header or the SSRCs it announces."""
    parts = sub_packets_of(data)
    packets: list[Any] = []
    try:
        if parts is None:
            packets = RtcpPacket.parse(data)
        for part in parts or []:
            feedback = transport_feedback_of(part)
            packets += [feedback] if feedback is not None else RtcpPacket.parse(part)
    except ValueError:
        return None
    events: Events = {}

    def to(name: str | None, event: tuple[Any, ...]) -> None:
        if name is not None:
            events.setdefault(name, []).append(event)

    for packet in packets:
        if isinstance(packet, RtcpPsfbPacket) and packet.fci[:4] == b"REMB":
            try:
                unpack_remb_fci(packet.fci)
            except (ValueError, struct.error):  # short of its header, or of its SSRCs
                if packet.fmt == RTCP_PSFB_APP:
                    return None
    for packet in packets:
        if isinstance(packet, tuple):
            to(SENDERS.get(packet[0]), ("twcc", packet[1]))
        elif isinstance(packet, RtcpSrPacket):
            info = packet.sender_info
            event = ("sr", packet.ssrc, info.ntp_timestamp, info.rtp_timestamp)
            to(RECEIVERS.get(packet.ssrc), event)
        if isinstance(packet, (RtcpSrPacket, RtcpRrPacket)):
            for report in packet.reports:
                to(SENDERS.get(report.ssrc), ("rr", report))
        elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            to(SENDERS.get(packet.media_ssrc), ("nack", [seq & 0xFFFF for seq in packet.lost]))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            to(SENDERS.get(packet.media_ssrc), ("keyframe",))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_FIR:
            named = [
                struct.unpack_from("!I", packet.fci, i)[0] for i in range(0, len(packet.fci) - 7, 8)
            ]
            for ssrc in dict.fromkeys([packet.media_ssrc, *named]):
                to(SENDERS.get(ssrc), ("keyframe",))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                continue
            for ssrc in dict.fromkeys(ssrcs):
                to(SENDERS.get(ssrc), ("remb", bitrate))
    return events


def assert_as_aiortc(harness: Harness, data: bytes) -> None:
    events, rejected = harness.receive(data)
    reference = expected(data)
    if reference is None:
        assert rejected and events == {}, data.hex()
    else:
        assert not rejected and events == reference, data.hex()


# --- compounds built with aiortc's own serializers ---------------------------------------


def sr(ssrc: int, reports: list[RtcpReceiverInfo] = [], ntp: int = 0xE000_0001_8000_0000) -> bytes:  # noqa: B006
    info = RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=90_000, packet_count=5, octet_count=500)
    return bytes(RtcpSrPacket(ssrc=ssrc, sender_info=info, reports=reports))


def block(ssrc: int, fraction: int = 10, lost: int = 3, lsr: int = 0x1234_5678) -> RtcpReceiverInfo:
    return RtcpReceiverInfo(
        ssrc=ssrc,
        fraction_lost=fraction,
        packets_lost=lost,
        highest_sequence=70_000,
        jitter=42,
        lsr=lsr,
        dlsr=6_553,
    )


def rr(*blocks: RtcpReceiverInfo) -> bytes:
    return bytes(RtcpRrPacket(ssrc=0x4000, reports=list(blocks)))


def sdes(ssrc: int, cname: bytes = b"{c0ffee00-1234-5678-9abc-def012345678}") -> bytes:
    return bytes(RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=ssrc, items=[(1, cname)])]))


def nack(media_ssrc: int, lost: list[int]) -> bytes:
    packet = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=0x4000, media_ssrc=media_ssrc)
    packet.lost = sorted(lost)
    return bytes(packet)


def psfb(fmt: int, media_ssrc: int, fci: bytes = b"") -> bytes:
    return bytes(RtcpPsfbPacket(fmt=fmt, ssrc=0x4000, media_ssrc=media_ssrc, fci=fci))


def fir_fci(*ssrcs: int) -> bytes:
    return b"".join(struct.pack("!IB3x", ssrc, n) for n, ssrc in enumerate(ssrcs))


def remb(bitrate: int, ssrcs: list[int]) -> bytes:
    return psfb(RTCP_PSFB_APP, 0, pack_remb_fci(bitrate, ssrcs))


def padded(packet: bytes, words: int) -> bytes:
    """One sub-packet with its P bit set and ``words`` words of padding (RFC 3550 6.4.1)."""
    length = struct.unpack_from("!H", packet, 2)[0] + words
    padding = bytes(4 * words - 1) + bytes([4 * words])
    return bytes([packet[0] | 0x20, packet[1]]) + struct.pack("!H", length) + packet[4:] + padding


# --- the walk, case by case --------------------------------------------------------------


def test_a_sender_report_with_its_sdes_reaches_the_receiver_of_its_ssrc() -> None:
    harness = Harness()
    data = sr(0x1001) + sdes(0x1001)  # what aiortc's sender sends every second or so
    events, rejected = harness.receive(data)
    assert events == {"rx_a": [("sr", 0x1001, 0xE000_0001_8000_0000, 90_000)]}
    assert not rejected
    assert_as_aiortc(harness, data)


def test_report_blocks_reach_the_senders_they_are_about() -> None:
    harness = Harness()
    blocks = [
        block(0x2001, lost=-5),
        block(UNKNOWN),
        block(0x2000, fraction=255, lost=(1 << 23) - 1),
    ]
    blocks.append(block(MUTE_SENDER))
    events, _ = harness.receive(rr(*blocks) + sr(0x1002, [block(0x2000, lost=-(1 << 23))]))
    assert events == {
        "tx_1": [("rr", blocks[2]), ("rr", block(0x2000, lost=-(1 << 23)))],
        "tx_2": [("rr", blocks[0])],
        "rx_b": [("sr", 0x1002, 0xE000_0001_8000_0000, 90_000)],
    }
    assert events["tx_2"][0][1].packets_lost == -5


def test_a_nack_lists_what_aiortc_lists_wrapped_at_65536() -> None:
    harness = Harness()
    lost = [100, 101, 105, 116, 117, 200, 65_535]
    raw = nack(0x2000, lost) + pack_rtcp_packet(
        RTCP_RTPFB, RTCP_RTPFB_NACK, struct.pack("!IIHH", 1, 0x2001, 65_534, 0b101)
    )
    events, _ = harness.receive(raw)
    assert events == {"tx_1": [("nack", lost)], "tx_2": [("nack", [65_534, 65_535, 1])]}
    assert_as_aiortc(harness, raw)


def test_pli_and_fir_ask_the_sender_named_for_a_keyframe() -> None:
    harness = Harness()
    assert harness.receive(psfb(RTCP_PSFB_PLI, 0x2001))[0] == {"tx_2": [("keyframe",)]}
    # browsers set a FIR's media SSRC to 0 (RFC 5104 4.3.1.2): the FCI names the stream
    fir = psfb(RTCP_PSFB_FIR, 0, fir_fci(0x2000))
    assert harness.receive(fir)[0] == {"tx_1": [("keyframe",)]}
    # named in the header and twice in the FCI: still one request; unknown SSRCs ignored
    fir = psfb(RTCP_PSFB_FIR, 0x2000, fir_fci(0x2000, UNKNOWN, 0x2001, 0x2000))
    assert harness.receive(fir)[0] == {"tx_1": [("keyframe",)], "tx_2": [("keyframe",)]}
    # a trailing half entry is no entry
    fir = psfb(RTCP_PSFB_FIR, 0, fir_fci(0x2001) + struct.pack("!I", 0x2000))
    assert harness.receive(fir)[0] == {"tx_2": [("keyframe",)]}


def test_a_remb_reaches_each_sender_it_names_once() -> None:
    harness = Harness()
    data = rr(block(0x2000)) + remb(1_500_000, [0x2000, 0x2001, UNKNOWN, 0x2000])
    events, _ = harness.receive(data)
    bitrate = unpack_remb_fci(pack_remb_fci(1_500_000, [0x2000]))[0]
    assert events == {
        "tx_1": [("rr", block(0x2000)), ("remb", bitrate)],
        "tx_2": [("remb", bitrate)],
    }
    # a REMB's media SSRC does not make its sender a recipient; other APP messages are not REMBs
    assert harness.receive(psfb(RTCP_PSFB_APP, 0x2000, pack_remb_fci(9, [0x2001])))[0] == {
        "tx_2": [("remb", 9)]
    }
    assert harness.receive(psfb(RTCP_PSFB_APP, 0x2000, b"GOOG\x00\x00\x00\x00"))[0] == {}


def test_bye_sdes_and_other_packets_dispatch_nothing() -> None:
    harness = Harness()
    others = [
        bytes(RtcpByePacket(sources=[0x1000, 0x2000])),
        sdes(0x1000),
        pack_rtcp_packet(207, 0, bytes(12)),  # XR
        pack_rtcp_packet(204, 1, struct.pack("!I4s", 0x1000, b"name")),  # APP
        psfb(2, 0x2000, bytes(4)),  # SLI
    ]
    for data in [*others, b"".join(others), b""]:
        assert harness.receive(data) == ({}, False)


def test_transport_feedback_padded_as_libwebrtc_pads_it_reaches_the_sender_it_names() -> None:
    """libwebrtc ends a feedback on a partial word and pads it with the P bit: aiortc
    refuses such a compound whole, the walk hands the feedback to its sender."""
    body = struct.pack("!IIHHI", 1, 0x2000, 7, 1, 0x000100) + struct.pack("!HB", 0x2001, 4)
    packet = bytes([0xAF, RTCP_RTPFB]) + struct.pack("!H", 5) + body + bytes([1])
    harness = Harness()
    assert harness.receive(packet + rr(block(0x2001))) == (
        {"tx_1": [("twcc", body)], "tx_2": [("rr", block(0x2001))]},
        False,
    )
    with pytest.raises(ValueError):
        RtcpPacket.parse(packet)
    assert expected(packet) == {"tx_1": [("twcc", body)]}


def test_padding_is_removed_as_aiortc_removes_it() -> None:
    harness = Harness()
    data = padded(sr(0x1000, [block(0x2000)]), 1) + padded(remb(800_000, [0x2001]), 3)
    events, rejected = harness.receive(data)
    assert set(events) == {"rx_a", "tx_1", "tx_2"} and not rejected
    assert_as_aiortc(harness, data)


INVALID = {
    "truncated header": sr(0x1000)[:3],
    "truncated packet": sr(0x1000)[:-4],
    "version 1": bytes([0x40]) + sr(0x1000)[1:],
    "length past the datagram": sr(0x1000)[:2] + struct.pack("!H", 7) + sr(0x1000)[4:],
    "report count above the length": bytes([0x82]) + rr(block(0x2000))[1:],
    "RR with a trailing word": pack_rtcp_packet(201, 0, bytes(8)),
    "zero padding": padded(rr(block(0x2000)), 1)[:-1] + b"\x00",
    "padding longer than the packet": padded(rr(block(0x2000)), 1)[:-1] + b"\xff",
    "padding longer than an XR": bytes([0xA0, 207, 0, 1, 0, 0, 0, 8]),
    "padding on an empty packet": bytes([0xA0, 203, 0, 0]),
    "NACK without its media SSRC": pack_rtcp_packet(RTCP_RTPFB, 1, struct.pack("!I", 1)),
    "NACK of half a word": padded(nack(0x2000, [1]), 1)[:-1] + b"\x02",
    "PLI without its media SSRC": pack_rtcp_packet(RTCP_PSFB, 1, struct.pack("!I", 1)),
    "REMB without its header": psfb(RTCP_PSFB_APP, 0, b"REMB"),
    "REMB missing an SSRC": psfb(RTCP_PSFB_APP, 0, pack_remb_fci(10**6, [0x2000, 0x2001])[:-4]),
    "BYE with too few sources": bytes([0x82, 203, 0, 1, 0, 0, 0x10, 0]),
    "SDES item past its end": pack_rtcp_packet(202, 1, struct.pack("!IBB2x", 0x1000, 1, 9)),
    "garbage": bytes(range(40, 140)),
    "RTP": bytes([0x80, 96]) + bytes(30),
}


@pytest.mark.parametrize("case", INVALID)
def test_an_invalid_part_drops_the_whole_compound(case: str) -> None:
    harness = Harness()
    valid = sr(0x1000, [block(0x2000)]) + psfb(RTCP_PSFB_PLI, 0x2001)
    for data in (INVALID[case], valid + INVALID[case], INVALID[case] + valid):
        assert harness.receive(data) == ({}, True), case
        assert expected(data) is None, "aiortc (and the REMB rule) drop it too"


def test_a_failing_sink_is_logged_and_nothing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    harness = Harness()
    logged: list[BaseException] = []
    monkeypatch.setattr(sfu.aiortc.fast_path, "log_forward_error", logged.append)

    def fail() -> None:
        raise RuntimeError("sink failed")

    harness.sinks["tx_1"].on_keyframe_request = fail  # type: ignore[method-assign]
    harness.fast_path._receive_rtcp(psfb(RTCP_PSFB_PLI, 0x2000))
    assert [str(e) for e in logged] == ["sink failed"]


async def test_rtcp_aiortc_unprotected_before_the_fast_path_takes_the_same_walk() -> None:
    harness = Harness()
    await harness.dtls._handle_rtcp_data(psfb(RTCP_PSFB_FIR, 0, fir_fci(0x2001)))  # type: ignore[attr-defined]
    assert harness.sinks["tx_2"].events == [("keyframe",)]


# --- against aiortc's parser, on generated and corrupted compounds -----------------------

ssrcs = st.sampled_from(POOL)
u32 = st.integers(0, 2**32 - 1)
reports = st.lists(
    st.builds(
        RtcpReceiverInfo,
        ssrc=ssrcs,
        fraction_lost=st.integers(0, 255),
        packets_lost=st.integers(-(1 << 23), (1 << 23) - 1),
        highest_sequence=u32,
        jitter=u32,
        lsr=u32,
        dlsr=u32,
    ),
    max_size=4,
)
words = st.lists(u32, max_size=6).map(lambda ws: struct.pack(f"!{len(ws)}I", *ws))
sender_infos = st.builds(
    RtcpSenderInfo,
    ntp_timestamp=st.integers(0, 2**64 - 1),
    rtp_timestamp=u32,
    packet_count=u32,
    octet_count=u32,
)
sub_packets = st.one_of(
    st.builds(
        lambda s, i, r: bytes(RtcpSrPacket(ssrc=s, sender_info=i, reports=r)),
        ssrcs,
        sender_infos,
        reports,
    ),
    st.builds(lambda s, r: bytes(RtcpRrPacket(ssrc=s, reports=r)), ssrcs, reports),
    st.builds(
        lambda chunks: bytes(RtcpSdesPacket(chunks=chunks)),
        st.lists(
            st.builds(
                RtcpSourceInfo,
                ssrc=ssrcs,
                items=st.lists(st.tuples(st.integers(1, 8), st.binary(max_size=40)), max_size=3),
            ),
            max_size=3,
        ),
    ),
    st.builds(lambda s: bytes(RtcpByePacket(sources=s)), st.lists(ssrcs, max_size=4)),
    st.builds(nack, ssrcs, st.lists(st.integers(0, 65_535), max_size=40, unique=True)),
    st.builds(
        lambda fmt, media, fci: pack_rtcp_packet(
            RTCP_RTPFB, fmt, struct.pack("!II", 1, media) + fci
        ),
        st.integers(0, 31),
        ssrcs,
        words,
    ),
    st.builds(psfb, st.just(RTCP_PSFB_PLI), ssrcs),
    st.builds(
        lambda media, named, half: psfb(RTCP_PSFB_FIR, media, fir_fci(*named) + bytes(4 * half)),
        ssrcs,
        st.lists(ssrcs, max_size=4),
        st.booleans(),
    ),
    st.builds(
        lambda media, bitrate, named: psfb(RTCP_PSFB_APP, media, pack_remb_fci(bitrate, named)),
        ssrcs,
        st.integers(0, 10**10),
        st.lists(ssrcs, max_size=5),
    ),
    st.builds(psfb, st.integers(0, 31), ssrcs, words),
    st.builds(
        pack_rtcp_packet,
        st.sampled_from([0, 192, 199, 204, 207, 208, 255]),
        st.integers(0, 31),
        words,
    ),
)
compounds = st.lists(
    st.tuples(sub_packets, st.integers(0, 3)).map(lambda p: padded(*p) if p[1] else p[0]),
    min_size=1,
    max_size=5,
).map(b"".join)
edits = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 10**4), st.integers(0, 255)),
        st.tuples(st.just("cut"), st.integers(0, 10**4), st.integers(1, 12)),
        st.tuples(st.just("insert"), st.integers(0, 10**4), st.binary(min_size=1, max_size=8)),
    ),
    min_size=1,
    max_size=3,
)


def corrupt(data: bytes, changes: list[tuple[str, int, Any]]) -> bytes:
    buffer = bytearray(data)
    for kind, at, value in changes:
        at %= len(buffer) + 1
        if kind == "set" and at < len(buffer):
            buffer[at] = value
        elif kind == "cut":
            del buffer[at : at + value]
        elif kind == "insert":
            buffer[at:at] = value
    return bytes(buffer)


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(compounds)
def test_generated_compounds_route_as_aiortc_parses_them(data: bytes) -> None:
    harness = Harness()
    events, rejected = harness.receive(data)
    assert not rejected and events == expected(data)


@SETTINGS
@given(compounds, edits)
def test_corrupted_compounds_route_as_aiortc_parses_them_or_not_at_all(
    data: bytes, changes: list[tuple[str, int, Any]]
) -> None:
    assert_as_aiortc(Harness(), corrupt(data, changes))


@SETTINGS
@given(st.binary(max_size=120), st.integers(0x80, 0xBF))
def test_garbage_never_raises(data: bytes, first: int) -> None:
    harness = Harness()
    assert_as_aiortc(harness, data)
    assert_as_aiortc(harness, bytes([first]) + data)  # version 2: the walk goes further


# --- through the SFU, with aiortc peers on 127.0.0.1 -------------------------------------

CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",),
    allowed_remote_networks=("127.0.0.0/8",),
    keyframe_request_min_interval_s=0.2,
)


def transceiver(pc: Any, kind: str) -> Any:
    return next(t for t in pc.getTransceivers() if t.kind == kind)


async def until(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def spy_on_publisher_plis(client: LoopbackClient) -> list[float]:
    """When the SFU's PLIs reach the publisher's (aiortc) video sender."""
    assert client.publish_pc is not None
    sender = transceiver(client.publish_pc, "video").sender
    original = sender._handle_rtcp_packet
    arrivals: list[float] = []

    async def counting(packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
            arrivals.append(time.monotonic())
        await original(packet)

    sender._handle_rtcp_packet = counting
    return arrivals


def spy_on_keyframe_requests(consumer: Any) -> list[float]:
    """When a consumer (the SFU's sender sink) is asked for a keyframe."""
    original = consumer.on_keyframe_request
    calls: list[float] = []

    def counting() -> None:
        calls.append(time.monotonic())
        original()

    consumer.on_keyframe_request = counting
    return calls


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_reports_reach_producer_and_consumer() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("rtcp-reports")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 5) >= 5
        producer = bob.participant.producers["camera"]
        consumer = alice.participant.consumers[("bob", "camera")]
        # the publisher's SR (+ SDES) reaches its producer's layer
        assert await until(lambda: producer.layers[0].sender_report is not None, 10)
        # the subscriber's RRs reach its consumer, their LSR one of our sender reports
        reports = consumer.receiver_reports
        assert await until(lambda: consumer.receiver_reports >= reports + 2, 10)
        assert await until(lambda: consumer.rtt_s is not None, 10)
        assert consumer.rtt_s is not None and consumer.rtt_s < 0.5
        fast_path = alice.participant._subscribe_pc.fast_path  # type: ignore[union-attr]
        assert fast_path is not None and fast_path.rtcp_rejected == 0
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()


@pytest.mark.slow
@pytest.mark.timeout(60)
@pytest.mark.parametrize("request_kind", ["pli", "fir with media SSRC 0"])
async def test_a_subscriber_keyframe_request_reaches_the_publisher(request_kind: str) -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("rtcp-keyframes")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 5) >= 5
        assert alice.subscribe_pc is not None
        consumer = alice.participant.consumers[("bob", "camera")]
        media_ssrc = consumer.sender._ssrc
        at_publisher = spy_on_publisher_plis(bob)
        at_consumer = spy_on_keyframe_requests(consumer)
        await asyncio.sleep(0.5)  # past the throttle of any request made at start-up
        at_publisher.clear()
        at_consumer.clear()

        receiver = transceiver(alice.subscribe_pc, "video").receiver
        if request_kind == "pli":
            await receiver._send_rtcp_pli(media_ssrc)
        else:
            fci = struct.pack("!IB3x", media_ssrc, 1)  # SSRC, sequence number, reserved
            await receiver._send_rtcp(
                RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=1, media_ssrc=0, fci=fci)
            )
        assert await until(lambda: bool(at_consumer), 3), "the SFU did not route the request"
        assert await until(lambda: bool(at_publisher), 3), "no PLI reached the publisher"
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
