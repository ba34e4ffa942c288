"""A padding probe: its pacing and what it concludes from the subscriber's REMB."""

from __future__ import annotations

from sfu.probe import (
    MAX_WAIT_S,
    PADDING_PACKET_BYTES,
    PROBE_DURATION_S,
    RESUME_CLEAR_AFTER_S,
    RESUME_CLEAR_FEEDBACKS,
    RESUME_PROBE_DURATION_S,
    RESUME_RAMP_FROM,
    RESUME_RAMP_S,
    Probe,
    ProbeRequest,
)

REQUEST = ProbeRequest(goal_bps=620_000, key="camera", layer=2)


def probe(remb_before: int | None = 400_000) -> Probe:
    return Probe.start(10.0, REQUEST, video_bps=260_000, remb_bps=remb_before, rtt_s=0.05)


def test_padding_brings_the_video_up_to_the_goal_evenly_and_only_for_the_probe() -> None:
    p = probe()
    assert p.padding_bps == 360_000
    counts = [p.padding_packets(10.0 + 0.02 * i) for i in range(1, 80)]
    total_bits = sum(counts) * PADDING_PACKET_BYTES * 8
    assert abs(total_bits - 360_000 * PROBE_DURATION_S) <= PADDING_PACKET_BYTES * 8
    assert max(counts) <= 4  # a few packets every tick, never a burst
    assert sum(counts[int(PROBE_DURATION_S / 0.02) + 1 :]) == 0


def test_a_rising_remb_after_the_start_is_success_once_settled() -> None:
    p = probe()
    assert p.outcome(10.2, 400_000, 9.9, 0.0) is None  # older than the probe
    assert p.outcome(10.4, 412_000, 10.35, 0.0) is None  # rose; not settled yet
    assert p.outcome(p.decided_at, 412_000, 10.35, 0.0) is True


def test_a_falling_remb_or_loss_fails_it_at_once() -> None:
    assert probe().outcome(10.15, 340_000, 10.1, 0.0) is False
    assert probe().outcome(10.15, None, 0.0, 0.2) is False


def test_a_remb_that_only_holds_is_no_success() -> None:
    """On overuse Chrome holds rather than raise its estimate: an unchanged REMB is not
    the estimate following, and with no rise by the deadline the probe failed."""
    p = probe()
    assert p.outcome(p.decided_at, 400_000, 10.4, 0.0) is None
    assert p.outcome(10.0 + MAX_WAIT_S, 400_000, 10.9, 0.0) is False


def test_a_subscriber_that_never_sent_a_remb_is_judged_on_loss() -> None:
    p = probe(remb_before=None)
    assert p.outcome(p.decided_at, None, 0.0, 0.0) is True


def test_a_remb_already_above_the_goal_that_does_not_come_down_is_success() -> None:
    """Video back after audio only: the estimate from before still covers the lowest
    layer; padding that does not bring it down confirms it."""
    p = Probe.start(
        10.0, ProbeRequest(goal_bps=100_000, resume=True), 0.0, remb_bps=800_000, rtt_s=None
    )
    assert p.outcome(p.decided_at, 800_000, 10.3, 0.0) is True


def test_media_nacked_while_padding_flows_fails_it_at_once() -> None:
    """A policer with a 50 ms queue drops media before any estimator reacts: NACKs of
    the media sent meanwhile end the probe (not one NACK: random loss happens)."""
    assert probe().outcome(10.1, None, 0.0, 0.0, media_nacked=1, media_sent=20) is None
    assert probe().outcome(10.1, None, 0.0, 0.0, media_nacked=3, media_sent=20) is False
    assert probe().outcome(10.1, None, 0.0, 0.0, media_nacked=3, media_sent=200) is None


def resume_probe(remb_before: int = 30_000) -> Probe:
    return Probe.start(
        10.0, ProbeRequest(goal_bps=100_000, resume=True), 0.0, remb_before, rtt_s=0.05
    )


def test_video_back_needs_the_estimate_to_rise_twice_while_padding_flows() -> None:
    """After idle time Chrome's first update rises on any link (+8 %); on a link that
    cannot carry the padding it then holds (overuse never raises an estimate)."""
    capped = resume_probe()
    assert capped.outcome(10.01, 30_000, 10.005, 0.0) is None  # a repeat: no news
    assert capped.outcome(10.05, 32_400, 10.04, 0.0) is None
    assert capped.outcome(10.4, 32_400, 10.35, 0.0) is None  # held, or a repeat
    assert capped.outcome(capped.decided_at, 32_400, 10.9, 0.0) is None
    assert capped.outcome(capped.ends + 0.5, 32_400, 11.2, 0.0) is False
    free = resume_probe()
    assert free.outcome(10.05, 32_400, 10.04, 0.0) is None
    assert free.outcome(10.4, 33_300, 10.35, 0.0) is None  # not settled yet
    assert free.outcome(free.decided_at, 33_300, 10.35, 0.0) is True
    assert free.ends - free.started >= PROBE_DURATION_S


def test_padding_to_bring_video_back_ramps_up_from_a_share_of_its_rate() -> None:
    p = resume_probe()
    ticks = int(RESUME_RAMP_S / 0.02)
    bits = [p.padding_packets(10.0 + 0.02 * i) * PADDING_PACKET_BYTES * 8 for i in range(1, 120)]
    first_tenth = sum(bits[:5])
    # the first tenth of a second sends well under the full rate's share...
    assert first_tenth < 0.6 * 100_000 * 0.1, bits[:5]
    assert first_tenth >= RESUME_RAMP_FROM * 100_000 * 0.1 - PADDING_PACKET_BYTES * 8
    # ...and once ramped the rate is the whole padding rate until the probe ends
    full = sum(bits[ticks : ticks + 25]) / (25 * 0.02)
    assert abs(full - 100_000) <= PADDING_PACKET_BYTES * 8 / 0.5
    assert sum(bits[int(RESUME_PROBE_DURATION_S / 0.02) + 1 :]) == 0


def test_video_back_is_carried_once_arrivals_past_the_bucket_show_no_queue() -> None:
    p = resume_probe()
    start = 10.0 + RESUME_CLEAR_AFTER_S
    # feedbacks before the padding got past a policer's bucket say nothing yet
    for i in range(5):
        p.arrival(10.1 + 0.1 * i, 0.0, 0)
    assert p.outcome(start - 0.01, 30_000, 9.9, 0.0) is None
    p.arrival(start + 0.05, 0.0, 0)
    p.arrival(start + 0.1, 0.04, 0)  # a queue: the count starts again
    p.arrival(start + 0.1, 0.0, 0)  # the same feedback again: no news
    for i in range(RESUME_CLEAR_FEEDBACKS - 1):
        p.arrival(start + 0.2 + 0.07 * i, 0.01, 0)
        assert p.outcome(start + 0.2 + 0.07 * i, 30_000, 9.9, 0.0) is None
    p.arrival(start + 0.5, 0.0, 0)
    # well before two REMB rises and the probe's end: the link carries it
    assert p.outcome(start + 0.5, 30_000, 9.9, 0.0) is True
    assert start + 0.5 < p.ends


def test_audio_lost_meanwhile_is_no_clear_arrival() -> None:
    """Half of what the SFU sends dropped on the way (a radio link, the SFU's own
    impairment shim): no queue forms, yet the link does not carry video."""
    p = resume_probe()
    start = 10.0 + RESUME_CLEAR_AFTER_S
    lost = 0
    for i in range(10):
        lost += 2
        p.arrival(start + 0.07 * i, 0.0, lost)
        assert p.outcome(start + 0.07 * i, 30_000, 9.9, 0.0) is None
    # the loss stops: three clear feedbacks carry it
    for i in range(RESUME_CLEAR_FEEDBACKS):
        p.arrival(start + 1.0 + 0.07 * i, 0.0, lost)
    assert p.outcome(start + 1.2, 30_000, 9.9, 0.0) is True
