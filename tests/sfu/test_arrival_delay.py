"""A subscriber's transport-wide feedback on its audio: read off the wire, turned into the
queue its downlink holds, and negotiated on the audio m-lines of our subscribe offers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sfu.arrival_delay import ArrivalDelay
from sfu.rtcp_wire import TRANSPORT_CC, walk
from sfu.transport_cc_sdp import offer_with_audio_transport_cc, transport_cc_offer
from sfu.transport_feedback import TRANSPORT_CC_URI, Arrival, build_feedback, parse_feedback

ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


def feedback(first: int, arrivals_us: list[int | None]) -> bytes:
    """One feedback packet past its 4-byte header (what the fast path hands a sink)."""
    arrivals = [Arrival(first + i, a) for i, a in enumerate(arrivals_us)]
    packet, rest = build_feedback(0x51, 0xA1, arrivals, 0)
    assert rest == []
    items = walk(packet)
    assert items is not None and [kind for kind, _, _ in items] == [TRANSPORT_CC]
    _, start, end = items[0]
    return packet[start:end]


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, (1 << 23) * 64_000 - 10_000_000),
    st.lists(st.one_of(st.none(), st.integers(0, 60_000)), min_size=1, max_size=300),
)
def test_what_build_feedback_writes_parse_feedback_reads_to_a_quarter_millisecond(
    first: int, start_us: int, gaps: list[int | None]
) -> None:
    arrivals: list[int | None] = [start_us]
    now = start_us
    for gap in gaps:
        if gap is not None:
            now += gap
        arrivals.append(None if gap is None else now)
    while arrivals[-1] is None:
        arrivals.pop()
    _, packets = parse_feedback(feedback(first, arrivals))
    assert [seq for seq, _ in packets] == [(first + i) & 0xFFFF for i in range(len(arrivals))]
    for (_, read), written in zip(packets, arrivals, strict=True):
        assert (read is None) == (written is None)
        if read is not None and written is not None:
            assert abs(read - written) <= 125 + 64_000  # the reference rounds down to 64 ms
            assert abs((read - packets[0][1]) - (written - start_us)) <= 125 * len(arrivals)  # type: ignore[operator]


@given(st.binary(max_size=80))
def test_hostile_feedback_is_refused_with_a_value_error_or_read(data: bytes) -> None:
    try:
        count, packets = parse_feedback(data)
    except ValueError:
        return
    assert 0 <= count <= 0xFF and len(packets) <= 0xFFFF


class SendLog:
    def __init__(self) -> None:
        self.times: dict[int, float] = {}

    def sent_at(self, seq: int) -> float | None:
        return self.times.get(seq)


def test_the_queue_is_the_delay_over_the_least_seen_and_lost_audio_is_counted() -> None:
    log = SendLog()
    arrivals = ArrivalDelay(log.sent_at)
    offset_us = 5_000_000_000  # the receiver's clock starts anywhere
    for seq in range(10):  # 20 ms apart, 3 ms on the way: no queue
        log.times[seq] = 100.0 + seq * 0.02
    first: list[int | None] = [offset_us + int((100.0 + s * 0.02 + 0.003) * 1e6) for s in range(10)]
    assert arrivals.on_feedback(feedback(0, first), 1.0) == 0.0
    # a cap: each packet waits 40 ms more than the one before, one never arrives
    for seq in range(10, 15):
        log.times[seq] = 100.0 + seq * 0.02
    late: list[int | None] = [
        offset_us + int((100.0 + s * 0.02 + 0.003 + 0.04 * (s - 9)) * 1e6) for s in range(10, 15)
    ]
    late[2] = None
    queue = arrivals.on_feedback(feedback(10, late), 1.0)
    assert queue is not None and abs(queue - 0.04) < 0.001  # the least of the newly reported
    assert arrivals.lost == 1 and arrivals.received == 14
    # the same packets reported again, and packets we never sent, change nothing
    assert arrivals.on_feedback(feedback(10, late), 1.0) is None
    assert arrivals.on_feedback(feedback(500, [offset_us]), 1.0) is None
    assert arrivals.lost == 1 and arrivals.queue_s is not None
    log.times[15] = 100.3
    assert arrivals.on_feedback(feedback(15, [offset_us + 100_303_000]), 1.0) == 0.0
    assert arrivals.on_feedback(b"\x00" * 7, 1.0) is None and arrivals.rejected == 1


def test_the_queue_survives_the_receivers_reference_time_wrapping() -> None:
    log = SendLog()
    arrivals = ArrivalDelay(log.sent_at)
    wrap_us = (1 << 24) * 64_000
    near_end = (1 << 23) * 64_000 - 100_000  # the signed 24-bit reference's last values
    log.times[0], log.times[1] = 10.0, 10.2
    assert arrivals.on_feedback(feedback(0, [near_end]), 1.0) == 0.0
    # 200 ms later the reference has wrapped to the most negative value
    queue = arrivals.on_feedback(feedback(1, [near_end + 200_000 + 10_000 - wrap_us]), 1.0)
    assert queue is not None and abs(queue - 0.01) < 0.001


OUR_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1 2",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111",
        "a=mid:0",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        "a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "a=rtpmap:111 opus/48000/2",
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97",
        "a=mid:1",
        "a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid",
        f"a=extmap:3 {ABS_SEND_TIME}",
        "a=rtpmap:96 VP8/90000",
        "a=rtcp-fb:96 nack",
        "a=rtpmap:97 rtx/90000",
        "m=audio 0 UDP/TLS/RTP/SAVPF 111",
        "a=mid:2",
        "a=rtpmap:111 opus/48000/2",
        "",
    ]
)


def test_our_subscribe_offer_numbers_audio_alone_under_an_id_the_bundle_leaves_free() -> None:
    offer = offer_with_audio_transport_cc(OUR_OFFER)
    audio, video, retired = offer.split("m=")[1:]
    assert f"a=extmap:4 {TRANSPORT_CC_URI}" in audio
    assert "a=rtcp-fb:111 transport-cc" in audio
    assert TRANSPORT_CC_URI not in video and "transport-cc" not in video  # REMB stays
    assert TRANSPORT_CC_URI not in retired
    assert transport_cc_offer(offer) == {"0": 4}
    assert offer_with_audio_transport_cc(offer) == offer  # renegotiated: the same id
