"""Call quality on a real link: the kernel shapes the citizen's link (``tc`` ``tbf``,
nftables loss in a network namespace), both ends are the real call page in real
Chromium, the service is ``visioguichet serve``. ``bench/real_link.py`` and
``bench/link.py`` hold the link, the call and the measures; ``python -m bench.link`` runs
the same scenarios longer and more often.

Each scenario is one call, run once per module and shared by the tests of its targets.
The machine is shared and its load comes in bursts: a target a call misses is tried on
a second call, and the test fails when both miss it (``bench.link`` gives the spread).
The one target no SFU reaches on this link is an expected failure, its reason the
figures measured.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from bench.link import (
    SCENARIOS,
    Bench,
    Metrics,
    bench_setup,
    run_cap_60_then_lift,
    run_downlink_cap,
    run_lift_cap,
    run_loss_burst_after_a_step,
    run_random_loss,
    run_scenario,
    run_unshaped,
    run_uplink_cap,
)
from bench.real_link import unavailable_reason

NO_LINK = unavailable_reason()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(NO_LINK is not None, reason=f"no real link here: {NO_LINK}"),
]

# The scenarios of bench/link.py, with windows short enough for the suite.
SHORT: dict[str, Callable[..., Metrics]] = {
    "unshaped": functools.partial(run_unshaped, observe_s=15.0),
    "lift_cap_320": functools.partial(run_lift_cap, observe_s=8.0),
    "down_400": run_downlink_cap(400_000, observe_s=20.0),  # its probes come after 11-16 s
    "down_300": run_downlink_cap(300_000, observe_s=15.0),
    "down_60": functools.partial(run_cap_60_then_lift, capped_s=8.0, lifted_s=18.0),
    "up_150": functools.partial(run_uplink_cap, settle_s=5.0, observe_s=6.0),
    "loss_5": functools.partial(run_random_loss, observe_s=12.0),
    "burst_after_step": functools.partial(run_loss_burst_after_a_step, observe_s=17.0),
}


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    with bench_setup() as running:
        yield running


# Calls a target is tried on before it counts as missed.
ATTEMPTS = 2

Check = Callable[[Metrics], bool]


@pytest.fixture(scope="module")
def calls(bench: Bench) -> Callable[[str, int], Metrics]:
    """A scenario's ``n``-th call (from 0), measured on first use and shared."""
    done: dict[str, list[Metrics]] = {}

    def get(name: str, n: int) -> Metrics:
        runs = done.setdefault(name, [])
        while len(runs) <= n:
            runs.append(run_scenario(bench, replace(SCENARIOS[name], run=SHORT[name])))
        return runs[n]

    return get


@pytest.fixture(scope="module")
def measured(calls: Callable[[str, int], Metrics]) -> Callable[[str], Metrics]:
    """A scenario's first call."""
    return lambda name: calls(name, 0)


@pytest.fixture(scope="module")
def target(calls: Callable[[str, int], Metrics]) -> Callable[[str, Check], None]:
    """Asserts ``check`` on the scenario's first call, or on a second if the first misses
    it."""

    def met(name: str, check: Check) -> None:
        missed = []
        for n in range(ATTEMPTS):
            run = calls(name, n)
            if check(run):
                return
            missed.append(run)
        pytest.fail(f"missed in {ATTEMPTS} calls: {missed}")

    return met


def test_a_call_on_a_clean_link_never_goes_audio_only(measured: Callable[[str], Metrics]) -> None:
    run = measured("unshaped")
    assert run["went_audio_only"] == 0, run
    assert run["either_audio_only"] == 0, run  # the agent's view of the citizen too


def test_lifting_a_320_px_cap_shows_no_freeze(measured: Callable[[str], Metrics]) -> None:
    run = measured("lift_cap_320")
    assert run["longest_gap_s"] < 0.5, run


def test_lifting_a_320_px_cap_brings_the_top_layer_back(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("lift_cap_320")
    assert run["top_after_s"] is not None and run["top_after_s"] <= 5.0, run


def test_a_400_kbps_downlink_drops_a_layer_within_2_s(
    target: Callable[[str, Check], None],
) -> None:
    """1.15-1.75 s at the page in bench.link, up to 2.03 s in single calls here and in CI:
    640 px and its audio are little over 400 kb/s, so the tbf's 4 KB burst empties slowly."""
    target("down_400", lambda r: r["layer_drop_s"] is not None and r["layer_drop_s"] <= 2.0)


def test_a_400_kbps_downlink_is_not_probed_with_the_top_layer(
    measured: Callable[[str], Metrics],
) -> None:
    """No switch to 640 px, and at most one probe for it that fails (the SFU's log)."""
    run = measured("down_400")
    assert run["up_to_top"] == 0, run
    assert run["failed_up_probes_in_30s"] <= 1, run


def test_a_300_kbps_downlink_stays_on_320_px(target: Callable[[str, Check], None]) -> None:
    """100 % in every bench.link run; once in CI (e5558d0) the step went below 320 px."""
    target("down_300", lambda r: r["on_320_share"] >= 0.9)


def test_stepping_down_under_a_300_kbps_cap_shows_no_freeze(
    measured: Callable[[str], Metrics],
) -> None:
    """The step to 320 px stops 640 px at once (its packets only fill the queue the new
    keyframe must cross) and paces the new keyframe once that queue has drained: the
    picture goes on within half a second (it froze 0.6-0.9 s in one run in five when the
    keyframe was sent at once)."""
    run = measured("down_300")
    assert run["longest_gap_s"] < 0.5, run


def test_stepping_down_under_a_400_kbps_cap_shows_no_freeze(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("down_400")
    assert run["longest_gap_s"] < 0.5, run


def test_a_60_kbps_downlink_goes_audio_only_within_2_s(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("down_60")
    assert run["audio_only_s"] is not None and run["audio_only_s"] <= 2.0, run


@pytest.mark.xfail(
    strict=False,
    reason=(
        "13.5-22.1 % of the audio concealed in the first 5 s of a 60 kb/s cap (bench.link, "
        "9 runs); with video stopped by the viewer itself 2.4-3.6 % at the cap, 2.5-8.2 % "
        "0.1 s after (8 of 12 within 5 %), 10.7-15.2 % at 0.15 s, 11.4-17.3 % at 0.2 s; the "
        "first arrival feedback showing the queue reaches the SFU 0.11-0.33 s after the "
        "cap (the tbf's 4 KB burst passes the first 0.1 s): no decision from feedback "
        "comes soon enough, and later the audio arrives 0.6 s late; none concealed once "
        "settled (bench/README.md)"
    ),
)
def test_a_60_kbps_downlink_conceals_at_most_5_percent_of_audio(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("down_60")
    assert run["concealed_first_5s"] is not None, run
    assert run["concealed_first_5s"] <= 0.05, run


def test_audio_fits_a_60_kbps_link_once_video_is_paused(
    measured: Callable[[str], Metrics],
) -> None:
    """Opus at Chrome's own rate, with the subscriber's RTCP, overflows 60 kb/s: the SFU
    asks the speaker's browser for less, and from 5 s on nothing is lost at the shaper."""
    run = measured("down_60")
    assert run["agent_audio_kbps_before_lift"] <= 16, run
    assert run["dropped_after_5s"] == 0, run
    assert run["concealed_after_5s"] is not None and run["concealed_after_5s"] <= 0.01, run


def test_video_comes_back_within_5_s_of_the_60_kbps_cap_lifting(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("down_60")
    assert run["video_back_s"] is not None and run["video_back_s"] <= 5.0, run


def test_the_top_layer_comes_back_within_15_s_of_the_60_kbps_cap_lifting(
    target: Callable[[str, Check], None],
) -> None:
    """11.6-12.5 s in bench.link: the window after the lift (18 s) leaves little margin."""
    target("down_60", lambda r: r["top_after_lift_s"] is not None and r["top_after_lift_s"] <= 15.0)


def test_a_150_kbps_uplink_loses_under_1_percent_at_the_bottleneck(
    measured: Callable[[str], Metrics],
) -> None:
    run = measured("up_150")
    assert run["drop_ratio_after_5s"] < 0.01, run


def test_5_percent_random_loss_keeps_the_video(measured: Callable[[str], Metrics]) -> None:
    run = measured("loss_5")
    assert run["went_audio_only"] == 0, run
    assert run["seconds_with_video"] >= 1.0, run


def test_5_percent_random_loss_keeps_the_sound(measured: Callable[[str], Metrics]) -> None:
    run = measured("loss_5")
    assert run["seconds_without_audio"] == 0, run


def test_the_top_layer_comes_back_within_15_s_of_a_loss_burst_after_a_step(
    target: Callable[[str, Check], None],
) -> None:
    """80 % loss for 1.5 s a second after the viewer lifts a 320 px cap: the step down it
    causes is not the step up's fault (the link queued nothing), so no 30 s back-off.
    10.4-10.9 s in bench.link; once in CI (0860c2c), on a loaded machine, not within the
    test's 17 s."""
    target(
        "burst_after_step",
        lambda r: (
            r["top_before_burst_s"] is not None
            and r["top_after_burst_s"] is not None
            and r["top_after_burst_s"] <= 15.0
        ),
    )
