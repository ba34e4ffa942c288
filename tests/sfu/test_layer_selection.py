"""Layer selection and the downlink estimate, as pure policies driven by a simulated clock."""

from __future__ import annotations

from sfu.bandwidth import DownlinkEstimate
from sfu.layer_selection import LayerSelector, SelectionPolicy, StreamLayers

POLICY = SelectionPolicy(
    up_factor=1.5,
    up_hold_s=3.0,
    resume_hold_s=5.0,
    loss_threshold=0.15,
    audio_only_floor_bps=60_000,
)
CAMERA = StreamLayers("camera", (100_000, 250_000, 600_000))
AUDIO_BPS = 40_000


def run(
    selector: LayerSelector,
    start: float,
    seconds: int,
    estimate: int | None,
    loss: float = 0.0,
    streams: tuple[StreamLayers, ...] = (CAMERA,),
    forced: bool = False,
) -> float:
    now = start
    for _ in range(seconds):
        now += 1.0
        selector.update(now, estimate, loss, streams, forced_audio_only=forced)
    return now


def test_a_new_stream_starts_at_the_highest_layer_that_fits() -> None:
    selector = LayerSelector(POLICY)
    run(selector, 0.0, 1, None)  # no estimate yet: the start bitrate (1 Mb/s) decides
    assert selector.layers == {"camera": 2}
    selector = LayerSelector(POLICY)
    run(selector, 0.0, 1, 300_000)
    assert selector.layers == {"camera": 1}


def test_it_climbs_one_layer_per_hold_when_the_link_allows() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 1, 200_000)
    assert selector.layers == {"camera": 0}
    now = run(selector, now, 4, 3_000_000)
    assert selector.layers == {"camera": 1} and selector.reason == "probe"
    now = run(selector, now, 4, 3_000_000)
    assert selector.layers == {"camera": 2}
    run(selector, now, 10, 3_000_000)
    assert selector.layers == {"camera": 2} and not selector.audio_only


def test_no_step_up_without_headroom() -> None:
    selector = LayerSelector(POLICY)
    run(selector, 0.0, 20, 140_000)  # 1.5 x 100 kb/s would be needed
    assert selector.layers == {"camera": 0}


def test_a_remb_lagging_behind_a_step_up_does_not_undo_it() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 1, 200_000)
    now = run(selector, now, 4, 3_000_000)
    assert selector.layers == {"camera": 1}
    now = run(selector, now, 3, 180_000)  # the REMB catches up with what arrives
    assert selector.layers == {"camera": 1}
    run(selector, now, 3, 150_000)  # grace over: now it counts
    assert selector.layers == {"camera": 0}


def test_a_cap_moves_down_at_once_to_the_highest_layer_that_fits() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    assert selector.layers == {"camera": 2}
    decision = selector.update(now + 1, 400_000, 0.2, (CAMERA,), limited_by_loss=True)
    assert decision.changed and decision.layers == {"camera": 1}
    assert decision.reason == "loss" and not decision.audio_only


def test_below_the_lowest_layer_goes_audio_only_after_two_evaluations_and_recovers() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 2, 200_000)
    assert selector.layers == {"camera": 0}
    first = selector.update(now + 1, 70_000, 0.0, (CAMERA,))
    assert not first.audio_only  # one bad evaluation is not enough
    second = selector.update(now + 2, 70_000, 0.0, (CAMERA,))
    assert second.audio_only and second.layers == {"camera": None}
    assert second.reason == "bandwidth"
    now += 2
    # still lossy: stays audio only however long
    now = run(selector, now, 10, 70_000, loss=0.3)
    assert selector.audio_only
    # good link: back after the resume hold, on the lowest layer
    now = run(selector, now, 4, 1_000_000)
    assert selector.audio_only
    now = run(selector, now, 2, 1_000_000)
    assert not selector.audio_only and selector.layers == {"camera": 0}
    assert selector.reason == "recovered"


def test_an_estimate_under_the_floor_stops_video_at_once() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 2, 200_000)
    decision = selector.update(now + 1, 50_000, 0.0, (CAMERA,))
    assert decision.audio_only and decision.changed


def test_a_low_remb_that_only_follows_a_starved_publisher_keeps_video() -> None:
    """The publisher's own link is poor: its lowest layer brings 30 kb/s, and the
    subscriber's REMB (never far above what arrives) sits at 45 kb/s, under the floor."""
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 2, 200_000)
    starved = StreamLayers("camera", (30_000, 0.0, 0.0))
    decision = selector.update(now + 1, 45_000, 0.0, (starved,), remb_congested=True)
    assert not decision.audio_only
    run(selector, now + 1, 5, 45_000, streams=(starved,))
    assert not selector.audio_only and selector.layers == {"camera": 0}
    # the same REMB with more arriving than it allows: the link is short, video stops
    decision = selector.update(now + 7, 45_000, 0.0, (CAMERA,), remb_congested=True)
    assert decision.audio_only


def test_sustained_random_loss_steps_down_then_stops_video() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    assert selector.layers == {"camera": 2}
    seen = []
    for _ in range(8):
        now += 1
        decision = selector.update(now, 3_000_000, 0.3, (CAMERA,))
        seen.append(None if decision.audio_only else decision.layers["camera"])
    assert seen[:6] == [2, 1, 1, 0, 0, None]
    assert selector.reason == "loss"


def test_a_failed_probe_backs_off_before_trying_again() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 1, 300_000)
    now = run(selector, now, 4, 3_000_000)
    assert selector.layers == {"camera": 2}  # just reached by a probe
    selector.update(now + 1, 400_000, 0.2, (CAMERA,), limited_by_loss=True)
    assert selector.layers == {"camera": 1}
    now += 1
    # plenty of headroom at once, but layer 2 failed: not before its back-off ends
    now = run(selector, now, 4, 3_000_000)
    assert selector.layers == {"camera": 1}
    run(selector, now, 6, 3_000_000)
    assert selector.layers == {"camera": 2}


def test_max_layer_caps_and_user_audio_only_wins() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    capped = StreamLayers("camera", CAMERA.bitrates, max_layer=0)
    now = run(selector, now, 1, 3_000_000, streams=(capped,))
    assert selector.layers == {"camera": 0}
    now = run(selector, now, 10, 3_000_000, streams=(capped,))
    assert selector.layers == {"camera": 0}
    now = run(selector, now, 1, 3_000_000, forced=True)
    assert selector.audio_only and selector.reason == "user"
    run(selector, now, 1, 3_000_000)
    assert not selector.audio_only and selector.reason == "user-auto"


def test_a_layer_the_publisher_stops_sending_is_left_for_the_one_below() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    top_gone = StreamLayers("camera", (100_000, 250_000, 0.0))
    run(selector, now, 1, 3_000_000, streams=(top_gone,))
    assert selector.layers == {"camera": 1}


def test_two_streams_share_the_budget_first_listed_first() -> None:
    selector = LayerSelector(POLICY)
    screen = StreamLayers("screen", (300_000,))
    now = run(selector, 0.0, 12, 3_000_000, streams=(screen, CAMERA))
    assert selector.layers == {"screen": 0, "camera": 2}
    run(selector, now, 1, 500_000, streams=(screen, CAMERA))
    assert selector.layers == {"screen": 0, "camera": 0}


def test_loss_bounds_the_estimate_below_the_remb_and_fades_when_the_link_is_clean() -> None:
    estimate = DownlinkEstimate()
    assert estimate.update(1.0, None, 0.0, 500_000, AUDIO_BPS) is None
    assert estimate.update(2.0, 2_000_000, 0.0, 500_000, AUDIO_BPS) == 2_000_000
    bound = estimate.update(3.0, 2_000_000, 0.4, 700_000, AUDIO_BPS)
    assert bound == int(700_000 * 0.8) - AUDIO_BPS and estimate.limited_by_loss
    held = estimate.update(4.0, 2_000_000, 0.05, 300_000, AUDIO_BPS)
    assert held == bound
    now = 4.0
    for _ in range(40):
        now += 1
        estimate.update(now, 2_000_000, 0.0, 300_000, AUDIO_BPS)
    assert estimate.video_budget(AUDIO_BPS) == 2_000_000 and estimate.loss_bound_bps is None
    assert not estimate.limited_by_loss


def test_raising_the_cap_steps_up_at_once_when_the_link_is_not_short() -> None:
    selector = LayerSelector(POLICY)
    capped = StreamLayers("camera", CAMERA.bitrates, max_layer=0)
    now = run(selector, 0.0, 3, 140_000, streams=(capped,))
    assert selector.layers == {"camera": 0}
    # 140 kb/s is no 1.5 x headroom over the 100 kb/s sent: no probe would start
    decision = selector.update(now + 0.1, 140_000, 0.0, (CAMERA,), cap_raised=True)
    assert decision.layers == {"camera": 1} and decision.reason == "user-layer"


def test_loss_measured_over_a_report_stops_video_at_once_when_the_lowest_does_not_fit() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 2, 200_000)
    assert selector.layers == {"camera": 0}
    decision = selector.update(now + 1, 80_000, 0.4, (CAMERA,), limited_by_loss=True)
    assert decision.audio_only and decision.reason == "loss"


def test_a_remb_shortfall_without_loss_or_a_fall_is_not_acted_on() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    assert selector.layers == {"camera": 2}
    for _ in range(5):  # an estimator still climbing from a low start: no reason to drop
        now += 1
        selector.update(now, 300_000, 0.0, (CAMERA,), remb_congested=False)
    assert selector.layers == {"camera": 2}
    decision = selector.update(now + 1, 300_000, 0.0, (CAMERA,), remb_congested=True)
    assert decision.layers == {"camera": 1} and decision.reason == "bandwidth"


def test_settling_after_a_step_down_ends_with_feedback_about_the_new_layer() -> None:
    selector = LayerSelector(POLICY)
    now = run(selector, 0.0, 12, 3_000_000)
    selector.update(now + 1, 400_000, 0.3, (CAMERA,), limited_by_loss=True)
    assert selector.layers == {"camera": 1} and selector.settling(now + 1.2)
    # loss reported now is about the layer before: no second step on it
    selector.update(now + 1.3, 150_000, 0.3, (CAMERA,), limited_by_loss=True)
    assert selector.layers == {"camera": 1}
    selector.feedback_after_step()
    assert not selector.settling(now + 1.4)
    decision = selector.update(now + 1.5, 150_000, 0.3, (CAMERA,), limited_by_loss=True)
    assert decision.layers == {"camera": 0}


def test_the_remb_counts_as_congestion_after_a_fall_or_with_loss_not_while_it_climbs() -> None:
    estimate = DownlinkEstimate()
    now = 0.0
    for remb in (300_000, 320_000, 345_000, 372_000):
        now += 0.5
        estimate.update(now, remb, 0.0, 600_000, AUDIO_BPS)
        assert not estimate.remb_congested
    estimate.update(now + 0.5, 250_000, 0.0, 600_000, AUDIO_BPS)  # overuse: it came down
    assert estimate.remb_congested
    estimate.update(now + 2.0, 270_000, 0.0, 600_000, AUDIO_BPS)
    assert estimate.remb_congested  # a fall is remembered a while
    estimate.update(now + 4.0, 290_000, 0.0, 600_000, AUDIO_BPS)
    assert not estimate.remb_congested
    estimate.update(now + 4.5, 310_000, 0.05, 600_000, AUDIO_BPS)
    assert estimate.remb_congested
