"""Transport-wide congestion control feedback: the wire format a browser's congestion
control reads, the arrival bookkeeping behind it, and its negotiation in the answer."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from sfu.transport_cc_sdp import answer_with_transport_cc, transport_cc_id, transport_cc_offer
from sfu.transport_feedback import (
    FEEDBACK_INTERVAL_S,
    TRANSPORT_CC_URI,
    Arrival,
    ArrivalLog,
    TransportFeedback,
    build_feedback,
    interval_for,
)

WRAP = (1 << 24) * 64_000  # the reference time's range, in µs


def decode(packet: bytes) -> tuple[int, int, list[int | None]]:
    """(fb count, base sequence, arrival µs or None per sequence number), read as the
    draft describes the format: an independent reading of what build_feedback wrote."""
    first, packet_type, length = struct.unpack_from("!BBH", packet)
    assert first >> 6 == 2 and first & 0x1F == 15 and packet_type == 205
    assert (length + 1) * 4 == len(packet)
    end = len(packet) - (packet[-1] if first & 0x20 else 0)
    base, count, reference_and_count = struct.unpack_from("!HHI", packet, 12)
    reference = reference_and_count >> 8  # 24 bits: the reader unwraps it across packets
    symbols: list[int] = []
    pos = 20
    while len(symbols) < count:
        (chunk,) = struct.unpack_from("!H", packet, pos)
        pos += 2
        if not chunk & 0x8000:
            symbols += [(chunk >> 13) & 3] * (chunk & 0x1FFF)
        elif not chunk & 0x4000:
            symbols += [(chunk >> (13 - i)) & 1 for i in range(14)]
        else:
            symbols += [(chunk >> (12 - 2 * i)) & 3 for i in range(7)]
    symbols = symbols[:count]
    now = reference * 64_000
    arrivals: list[int | None] = []
    for symbol in symbols:
        if symbol == 0:
            arrivals.append(None)
            continue
        if symbol == 1:
            ticks = packet[pos]
            pos += 1
        else:
            (ticks,) = struct.unpack_from("!h", packet, pos)
            pos += 2
        now += ticks * 250
        arrivals.append(now)
    assert pos <= end
    return reference_and_count & 0xFF, base, arrivals


def test_a_small_feedback_is_the_bytes_the_draft_describes() -> None:
    arrivals = [Arrival(10, 65_000), Arrival(11, None), Arrival(12, 67_000)]
    packet, rest = build_feedback(0x11223344, 0x55667788, arrivals, feedback_count=7)
    assert rest == []
    assert packet == bytes.fromhex(
        "8fcd0005"  # V=2 FMT=15, RTPFB, 6 words
        "11223344"
        "55667788"  # sender, media source
        "000a"
        "0003"  # base sequence 10, three statuses
        "000001"
        "07"  # reference time 1 × 64 ms, feedback packet 7
        "d100"  # two-bit vector: received small, not received, received small
        "04"
        "08"  # +1 ms from the reference, +2 ms
    )


@given(
    gaps=st.lists(
        st.one_of(st.none(), st.integers(min_value=0, max_value=300_000)),
        min_size=1,
        max_size=1200,
    ),
    start=st.integers(min_value=0, max_value=70_000),
    first_at=st.integers(min_value=0, max_value=10**12),
)
def test_every_arrival_survives_the_wire_to_a_quarter_millisecond(
    gaps: list[int | None], start: int, first_at: int
) -> None:
    arrivals = [Arrival(start, first_at)]
    now = first_at
    for offset, gap in enumerate(gaps, start=1):
        if gap is not None:
            now += gap
        arrivals.append(Arrival(start + offset, None if gap is None else now))
    while arrivals[-1].arrival_us is None:
        arrivals.pop()
    remaining = arrivals
    decoded: list[tuple[int, int | None]] = []
    count = 0
    while remaining:
        packet, rest = build_feedback(1, 2, remaining, count)
        fb_count, base, times = decode(packet)
        assert fb_count == count and base == remaining[0].sequence & 0xFFFF
        decoded += [(remaining[0].sequence + i, t) for i, t in enumerate(times)]
        remaining = rest
        while remaining and remaining[0].arrival_us is None:
            decoded.append((remaining[0].sequence, None))
            remaining = remaining[1:]
        count += 1
    assert [s for s, _ in decoded] == [a.sequence for a in arrivals]
    for (_, got), arrival in zip(decoded, arrivals, strict=True):
        if arrival.arrival_us is None:
            assert got is None
        else:
            assert got is not None
            assert abs((got - arrival.arrival_us + WRAP // 2) % WRAP - WRAP // 2) <= 125


def test_the_arrival_log_unwraps_and_reports_lost_packets_once() -> None:
    log = ArrivalLog()
    log.add([(65_534, 1_000), (65_535, 2_000), (1, 4_000)])  # 0 is missing, then a wrap
    first = log.take()
    assert [(a.sequence, a.arrival_us) for a in first] == [
        (65_534, 1_000),
        (65_535, 2_000),
        (65_536, None),
        (65_537, 4_000),
    ]
    log.add([(0, 5_000), (2, 6_000)])  # 0 arrives after its range was reported
    assert [(a.sequence, a.arrival_us) for a in log.take()] == [(65_538, 6_000)]
    assert log.take() == []


def test_a_sender_that_restarts_its_numbering_starts_a_new_range() -> None:
    log = ArrivalLog()
    log.add([(100, 1_000), (101, 2_000)])
    log.take()
    log.add([(30_000, 3_000), (30_001, 4_000)])
    assert [a.sequence for a in log.take()] == [30_000, 30_001]


def test_feedback_waits_until_a_stream_is_known_and_then_reports_everything() -> None:
    sent: list[bytes] = []
    pending = [[(5, 100_000), (6, 101_000)], [(7, 102_000)]]
    ssrc = [0]

    def send(packet: bytes) -> bool:
        sent.append(packet)
        return True

    feedback = TransportFeedback(
        lambda: pending.pop(0) if pending else [],
        send,
        9,
        lambda: ssrc[0],
    )
    assert feedback.flush() == 0  # no stream of the sender's known yet
    ssrc[0] = 1234
    assert feedback.flush() == 1
    _, base, times = decode(sent[0])
    assert base == 5 and len(times) == 3 and all(t is not None for t in times)
    assert struct.unpack_from("!I", sent[0], 8)[0] == 1234


OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        f"a=extmap:3 {TRANSPORT_CC_URI}",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "a=mid:1",
        f"a=extmap:3 {TRANSPORT_CC_URI}",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 transport-cc",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "",
    ]
)

AIORTC_ANSWER = "\r\n".join(
    [
        "v=0",
        "o=- 3 4 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=rtpmap:111 opus/48000/2",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "a=mid:1",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtpmap:97 rtx/90000",
        "a=fmtp:97 apt=96",
        "",
    ]
)


def test_the_answer_accepts_transport_cc_on_each_offered_m_line_for_media_codecs() -> None:
    offered = transport_cc_offer(OFFER)
    assert offered == {"0": 3, "1": 3} and transport_cc_id(offered) == 3
    answer = answer_with_transport_cc(AIORTC_ANSWER, offered).split("\r\n")
    assert answer.count(f"a=extmap:3 {TRANSPORT_CC_URI}") == 2
    assert "a=rtcp-fb:111 transport-cc" in answer
    assert "a=rtcp-fb:96 transport-cc" in answer
    assert "a=rtcp-fb:97 transport-cc" not in answer  # rtx is not media of its own


def test_an_offer_without_transport_cc_leaves_the_answer_alone() -> None:
    offer = "\r\n".join(line for line in OFFER.split("\r\n") if TRANSPORT_CC_URI not in line)
    assert transport_cc_offer(offer) == {}
    assert answer_with_transport_cc(AIORTC_ANSWER, {}) == AIORTC_ANSWER


def test_feedback_takes_at_most_five_percent_of_the_publishers_downlink() -> None:
    assert interval_for(None) == FEEDBACK_INTERVAL_S  # unknown: the default
    assert interval_for(2_000_000) == FEEDBACK_INTERVAL_S  # never more often
    assert abs(interval_for(50_000) - 68 * 8 / 2_500) < 1e-9  # audio only: 0.22 s
    assert interval_for(10_000) == 0.25  # never less often
