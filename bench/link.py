"""Call quality on real links: real kernel shaping, real Chromium on both ends.

Each run is a fresh call (agent's Chromium on the host, citizen's behind a veth pair in a
network namespace, ``bench/real_link.py``, ``bench/link_call.py``); once the citizen
decodes the agent's top layer (640 px), the scenario changes the citizen's link and the
citizen's page is read: its ``getStats`` every 250 ms, the SFU's ``quality`` frames and
every video frame it presents. Layers from the call page's fake camera: 640 px ≈ 345
kb/s, 320 ≈ 175, 160 ≈ 100; audio 50 packets/s.

    python -m bench.link [--repeats 3] [--scenarios down_400,down_60]

Writes ``bench/results/link.json`` (every run, medians, ranges) and ``link.md`` (the
table it prints). The SFU's impairment shim (``bench/adaptation.py``) stays the fast
unit-level check; this is the reference.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench.link_call import (
    AGENT_ID,
    Browsers,
    Call,
    LinkService,
    committed_snapshot,
    launch_browsers,
    open_call,
    serve_on,
    wait_for_steady,
    wait_for_width,
)
from bench.real_link import RealLink, real_link

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TOP_WIDTH, MIDDLE_WIDTH = 640, 320
TOP_LAYER, MIDDLE_LAYER = 2, 1
TOP_TIMEOUT_S = 30.0
CONCEALED_WINDOW_S = 5.0  # the cap's first seconds, where the queue video left is played out
Metrics = dict[str, Any]


# ---------------------------------------------------------------- reading the probe


def _ms(seconds: float) -> float:
    return seconds * 1000.0


def quality_of_agent(probe: dict[str, Any]) -> list[dict[str, Any]]:
    return [q for q in probe["quality"] if q.get("participant_id") == AGENT_ID]


def state_of(frame: dict[str, Any]) -> int:
    """A quality frame as one number: its layer, or -1 when audio only."""
    return -1 if frame.get("audio_only") or frame.get("layer") is None else int(frame["layer"])


def first_after(
    frames: list[dict[str, Any]], start_ms: float, holds: Callable[[dict[str, Any]], bool]
) -> float | None:
    """Seconds from ``start_ms`` to the first quality frame after it for which ``holds``."""
    for frame in frames:
        if frame["t"] >= start_ms and holds(frame):
            return round((frame["t"] - start_ms) / 1000.0, 2)
    return None


def time_in_states(
    frames: list[dict[str, Any]], start_ms: float, end_ms: float
) -> dict[int, float]:
    """Seconds spent in each state between the two times (the SFU's decisions as a step
    function; before the first frame the state is unknown and not counted)."""
    spent: dict[int, float] = {}
    state: int | None = None
    at = start_ms
    for frame in frames:
        if frame["t"] <= start_ms:
            state = state_of(frame)
            continue
        if frame["t"] >= end_ms:
            break
        if state is not None:
            spent[state] = spent.get(state, 0.0) + (frame["t"] - at) / 1000.0
        state, at = state_of(frame), frame["t"]
    if state is not None:
        spent[state] = spent.get(state, 0.0) + (end_ms - at) / 1000.0
    return spent


def state_at(frames: list[dict[str, Any]], at_ms: float) -> int | None:
    """The state the last quality frame before ``at_ms`` announced."""
    earlier = [frame for frame in frames if frame["t"] <= at_ms]
    return state_of(earlier[-1]) if earlier else None


def rises_into(frames: list[dict[str, Any]], start_ms: float, state: int) -> int:
    """How many times the state became ``state`` from a lower one after ``start_ms``."""
    count = 0
    previous: int | None = None
    for frame in frames:
        current = state_of(frame)
        if frame["t"] > start_ms and previous is not None and previous < state == current:
            count += 1
        previous = current
    return count


def _longest_gap(
    frames: Sequence[Sequence[float]], start_ms: float, end_ms: float
) -> tuple[Sequence[float], Sequence[float]]:
    """The frames (time, width) either side of the longest time without a newly
    presented frame between the two times: from the last frame before the window, up to
    its end (the window's edges stand in, width 0, where no frame does)."""
    before = [f for f in frames if f[0] < start_ms]
    inside = [f for f in frames if start_ms <= f[0] <= end_ms]
    edges = [before[-1] if before else (start_ms, 0), *inside, (end_ms, 0)]
    return max(itertools.pairwise(edges), key=lambda pair: pair[1][0] - pair[0][0])


def longest_frame_gap(frames: Sequence[Sequence[float]], start_ms: float, end_ms: float) -> float:
    """Longest time without a newly presented frame between the two times (seconds)."""
    before, after = _longest_gap(frames, start_ms, end_ms)
    return round((after[0] - before[0]) / 1000.0, 3)


def longest_gap_where(
    frames: Sequence[Sequence[float]], start_ms: float, end_ms: float
) -> tuple[float, int, int]:
    """Where ``longest_frame_gap`` is: seconds from ``start_ms`` to its last frame before,
    and the widths of the frames on either side, to tell a freeze at a layer switch from
    one within a layer (0: none, the window's edge)."""
    before, after = _longest_gap(frames, start_ms, end_ms)
    return round((before[0] - start_ms) / 1000.0, 3), int(before[1]), int(after[1])


def most_within(times: Sequence[float], span_s: float) -> int:
    """The most of ``times`` (seconds) that fall within any ``span_s`` of one another."""
    ordered = sorted(times)
    return max(
        (bisect.bisect_right(ordered, t + span_s) - i for i, t in enumerate(ordered)),
        default=0,
    )


def steady_from(
    frames: Sequence[Sequence[float]],
    start_ms: float,
    width: int | None = None,
    hold_ms: float = 2000.0,
    max_gap_ms: float = 500.0,
) -> float | None:
    """Seconds from ``start_ms`` to the first frame from which video plays on (frames of
    ``width``, if given, with no gap over ``max_gap_ms``) for ``hold_ms``: a few stale
    frames repaired after a change are not video coming back."""
    times = [t for t, w in frames if t > start_ms]
    widths = [w for t, w in frames if t > start_ms]
    for i, first in enumerate(times):
        if width is not None and widths[i] != width:
            continue
        last = first
        for t, w in zip(times[i + 1 :], widths[i + 1 :], strict=True):
            if t - last > max_gap_ms or (width is not None and w != width):
                break
            last = t
            if last - first >= hold_ms:
                return round((first - start_ms) / 1000.0, 2)
    return None


def first_frame_below(frames: list[list[float]], start_ms: float, width: int) -> float | None:
    for t, frame_width in frames:
        if t > start_ms and 0 < frame_width < width:
            return round((t - start_ms) / 1000.0, 2)
    return None


def share_of_seconds_with_frames(
    frames: list[list[float]], start_ms: float, end_ms: float
) -> float:
    seconds = max(1, int((end_ms - start_ms) // 1000))
    lit = {int((t - start_ms) // 1000) for t, _ in frames if start_ms <= t < end_ms}
    return round(len({s for s in lit if s < seconds}) / seconds, 3)


def sample_at(samples: list[dict[str, Any]], at_ms: float) -> dict[str, Any] | None:
    """The last stats sample taken at or before ``at_ms``."""
    found = None
    for sample in samples:
        if sample["t"] > at_ms:
            break
        found = sample
    return found


def concealed_share(samples: list[dict[str, Any]], start_ms: float, end_ms: float) -> float | None:
    """Share of audio samples played out as concealment (lost or late) between the times."""
    first, last = sample_at(samples, start_ms), sample_at(samples, end_ms)
    if not first or not last or not first["audio"] or not last["audio"]:
        return None
    played = last["audio"]["totalSamplesReceived"] - first["audio"]["totalSamplesReceived"]
    concealed = last["audio"]["concealedSamples"] - first["audio"]["concealedSamples"]
    return round(concealed / played, 4) if played > 0 else 1.0


def audio_delay_ms(samples: list[dict[str, Any]], start_ms: float, end_ms: float) -> float | None:
    """How long audio waited in the receiver's jitter buffer, on average, between the
    times: it grows with the queue on the way (Chrome's buffer follows the delay's swings)."""
    first, last = sample_at(samples, start_ms), sample_at(samples, end_ms)
    if not first or not last or not first["audio"] or not last["audio"]:
        return None
    emitted = last["audio"]["jitterBufferEmittedCount"] - first["audio"]["jitterBufferEmittedCount"]
    waited = last["audio"]["jitterBufferDelay"] - first["audio"]["jitterBufferDelay"]
    return round(1000 * waited / emitted, 1) if emitted > 0 else None


def seconds_without_audio(samples: list[dict[str, Any]], start_ms: float, end_ms: float) -> int:
    """Whole seconds in which no audio packet arrived."""
    empty = 0
    at = start_ms
    while at + 1000 <= end_ms:
        a, b = sample_at(samples, at), sample_at(samples, at + 1000)
        flowing = bool(a and b and a["audio"] and b["audio"])
        if not flowing or b["audio"]["packetsReceived"] <= a["audio"]["packetsReceived"]:  # type: ignore[index]
            empty += 1
        at += 1000
    return empty


def video_delta(samples: list[dict[str, Any]], start_ms: float, end_ms: float, key: str) -> float:
    first, last = sample_at(samples, start_ms), sample_at(samples, end_ms)
    if not first or not last or not first["video"] or not last["video"]:
        return 0.0
    return round(float(last["video"][key] - first["video"][key]), 3)


def timeline(frames: list[dict[str, Any]], start_ms: float) -> list[list[Any]]:
    """The SFU's decisions, compact: [seconds from start, state, estimate kb/s]."""
    return [
        [round((q["t"] - start_ms) / 1000.0, 2), state_of(q), round(q["estimate_bps"] / 1000)]
        for q in frames
    ]


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Target:
    metric: str
    text: str
    holds: Callable[[Any], bool]


@dataclass
class Scenario:
    name: str
    title: str
    run: Callable[[Call, RealLink], Metrics]
    targets: tuple[Target, ...]
    needs_top: bool = True


def _wait_until(moment: float) -> None:
    time.sleep(max(0.0, moment - time.time()))


def run_unshaped(call: Call, link: RealLink, observe_s: float = 20.0) -> Metrics:
    start = _ms(call.entered_at)
    _wait_until(call.entered_at + observe_s)
    probe = call.probe()
    quality = quality_of_agent(probe)
    end = _ms(call.entered_at + observe_s)
    first = probe["frames"][0][0] if probe["frames"] else start
    # either way: the agent's view of the citizen too, from the SFU's own log
    decisions = call.service_events("sfu_link", call.entered_at - 1.0, call.entered_at + observe_s)
    went = any(state_of(q) == -1 for q in quality)
    return {
        "went_audio_only": int(went),
        "either_audio_only": int(went or any(d["audio_only"] for d in decisions)),
        "audio_only_decisions": [
            [d["publishers"], d["reason"], round(d["at"] - call.entered_at, 2)]
            for d in decisions
            if d["audio_only"]
        ],
        "top_after_s": steady_from(probe["frames"], start, TOP_WIDTH),
        "longest_gap_s": longest_frame_gap(probe["frames"], first, end),
        "lowest_state": min((state_of(q) for q in quality), default=None),
        "timeline": timeline(quality, start),
    }


def run_lift_cap(call: Call, link: RealLink, observe_s: float = 12.0) -> Metrics:
    """The viewer caps itself at 320 px long enough for the publisher's top encoding to
    stop (dynacast: 5 s unwanted), then lifts the cap."""
    call.set_quality(mode="auto", max_layer=MIDDLE_LAYER)
    capped_after = wait_for_width(call, MIDDLE_WIDTH, 15.0)
    time.sleep(7.0)
    agent_layers = call.published(call.agent)["layers"]
    lifted = time.time()
    call.set_quality(mode="auto")
    _wait_until(lifted + observe_s)
    probe = call.probe()
    start, end = _ms(lifted), _ms(lifted + observe_s)
    return {
        "capped_after_s": None if capped_after is None else round(capped_after, 2),
        "top_encoding_on_at_lift": agent_layers.get("f", {}).get("active"),
        "longest_gap_s": longest_frame_gap(probe["frames"], start - 500, end),
        "top_after_s": steady_from(probe["frames"], start, TOP_WIDTH),
        "freezes": video_delta(probe["samples"], start, end, "freezeCount"),
        "timeline": timeline(quality_of_agent(probe), start),
    }


def run_downlink_cap(rate_bps: int, observe_s: float = 20.0) -> Callable[[Call, RealLink], Metrics]:
    def run(call: Call, link: RealLink) -> Metrics:
        capped = time.time()
        link.shape("down", rate_bps)
        _wait_until(capped + observe_s)
        # the SFU's probes for a higher layer (not those bringing video back), from its log
        up_probes = [
            p for p in call.service_events("sfu_probe", capped, capped + observe_s)
            if not p.get("resume")
        ]  # fmt: skip
        failed = [p["at"] for p in up_probes if not p.get("carried")]
        probe = call.probe()
        quality = quality_of_agent(probe)
        start, end = _ms(capped), _ms(capped + observe_s)
        drop = first_after(quality, start, lambda q: state_of(q) < TOP_LAYER)
        spent = time_in_states(quality, start + 5000, end)
        settled = max(sum(spent.values()), 1e-9)
        return {
            "layer_drop_s": drop,
            "decoded_drop_s": first_frame_below(probe["frames"], start, TOP_WIDTH),
            "up_to_top": rises_into(quality, start + _ms(drop or 0), TOP_LAYER),
            "up_probes": len(up_probes),
            "failed_up_probes_in_30s": most_within(failed, 30.0),
            "on_320_share": round(spent.get(MIDDLE_LAYER, 0.0) / settled, 3),
            "audio_only_s": round(time_in_states(quality, start, end).get(-1, 0.0), 2),
            "longest_gap_s": longest_frame_gap(probe["frames"], start, end),
            "longest_gap_where": longest_gap_where(probe["frames"], start, end),
            "concealed": concealed_share(probe["samples"], start, end),
            "timeline": timeline(quality, start),
            "capped_at": round(capped, 3),  # epoch: lines up with the service's log
        }

    return run


def run_cap_60_then_lift(
    call: Call, link: RealLink, capped_s: float = 10.0, lifted_s: float = 20.0
) -> Metrics:
    capped = time.time()
    link.shape("down", 60_000)
    _wait_until(capped + CONCEALED_WINDOW_S)
    settled = link.shaper_counters("down")
    _wait_until(capped + capped_s)
    held = link.shaper_counters("down").since(settled)
    agent_audio = call.published(call.agent)["audio_target_kbps"]
    lifted = time.time()
    link.shape("down", None)
    _wait_until(lifted + lifted_s)
    probe = call.probe()
    quality = quality_of_agent(probe)
    start, lift = _ms(capped), _ms(lifted)
    settle = start + _ms(CONCEALED_WINDOW_S)
    return {
        "audio_only_s": first_after(quality, start, lambda q: state_of(q) == -1),
        "concealed_first_5s": concealed_share(probe["samples"], start, settle),
        # audio only, once settled: does the audio itself fit the link?
        "concealed_after_5s": concealed_share(probe["samples"], settle, lift),
        "audio_delay_ms_before_lift": audio_delay_ms(probe["samples"], lift - 2000, lift),
        "dropped_after_5s": held.drops,
        "agent_audio_kbps_before_lift": agent_audio,  # what the agent's browser encodes
        "audio_only_at_lift": int(state_at(quality, lift) == -1),
        "video_back_s": steady_from(probe["frames"], lift),
        "top_after_lift_s": steady_from(probe["frames"], lift, TOP_WIDTH),
        "sfu_resumed_s": first_after(quality, lift, lambda q: state_of(q) >= 0),
        "timeline": timeline(quality, start),
        "capped_at": round(capped, 3),  # epoch: lines up with the service's log
        "lifted_at": round(lifted, 3),
    }


def run_cap_60_with_audio_only_after(
    delay_s: float | None, observe_s: float = 5.0
) -> Callable[[Call, RealLink], Metrics]:
    """``down_60``'s concealment when video stops ``delay_s`` after the cap, asked by the
    viewer itself (None: just before it, the floor: what no decision can avoid, the
    jitter buffer's step as the cap comes): what an SFU deciding that soon would get.

    No SFU can know sooner than a packet queued behind the cap is reported: the
    bucket's burst lets the first ~0.1 s of a 640 px call through untouched, and the
    subscriber reports arrivals every 0.1 s or so. By 0.2 s the queue is full."""

    def run(call: Call, link: RealLink) -> Metrics:
        if delay_s is None:
            call.set_quality(mode="audio-only")
        capped = time.time()
        link.shape("down", 60_000)
        if delay_s is not None:
            _wait_until(capped + delay_s)
            call.set_quality(mode="audio-only")
        _wait_until(capped + observe_s)
        probe = call.probe()
        start = _ms(capped)
        return {
            "concealed_first_5s": concealed_share(probe["samples"], start, start + 5000),
            "audio_only_s": first_after(
                quality_of_agent(probe), start, lambda q: state_of(q) == -1
            ),
            "capped_at": round(capped, 3),
        }

    return run


def run_uplink_cap(
    call: Call,
    link: RealLink,
    rate_bps: int = 150_000,
    settle_s: float = 5.0,
    observe_s: float = 10.0,
) -> Metrics:
    capped = time.time()
    link.shape("up", rate_bps)
    _wait_until(capped + settle_s)
    settled = link.shaper_counters("up")
    _wait_until(capped + settle_s + observe_s)
    after = link.shaper_counters("up").since(settled)
    return {
        "dropped_first_5s": settled.drops,
        "drop_ratio_after_5s": round(after.drop_ratio, 4),
        "sent_kbps_after_5s": round(after.bytes * 8 / observe_s / 1000, 1),
        "citizen_sends": call.published(call.citizen),
    }


def run_random_loss(
    call: Call, link: RealLink, percent: int = 5, observe_s: float = 20.0
) -> Metrics:
    lossy = time.time()
    link.set_loss("down", percent)
    _wait_until(lossy + observe_s)
    probe = call.probe()
    quality = quality_of_agent(probe)
    start, end = _ms(lossy), _ms(lossy + observe_s)
    return {
        "went_audio_only": int(any(q["t"] >= start and state_of(q) == -1 for q in quality)),
        "seconds_with_video": share_of_seconds_with_frames(probe["frames"], start, end),
        "longest_gap_s": longest_frame_gap(probe["frames"], start, end),
        "concealed": concealed_share(probe["samples"], start, end),
        "seconds_without_audio": seconds_without_audio(probe["samples"], start, end),
        "lowest_state": min((state_of(q) for q in quality if q["t"] >= start), default=None),
        "timeline": timeline(quality, start),
    }


def run_loss_burst_after_a_step(
    call: Call, link: RealLink, percent: int = 80, burst_s: float = 1.5, observe_s: float = 20.0
) -> Metrics:
    """A burst of heavy loss (a radio fade) a second after the viewer lifts a 320 px cap:
    the step down it causes is not the step up's doing, so the top layer is probed again
    after the hold any step down gets, not after a failed step's 30 s back-off."""
    call.set_quality(mode="auto", max_layer=MIDDLE_LAYER)
    capped_after = wait_for_width(call, MIDDLE_WIDTH, 15.0)
    time.sleep(2.0)
    call.set_quality(mode="auto")
    top_after = wait_for_width(call, TOP_WIDTH, 10.0)
    time.sleep(1.0)
    burst = time.time()
    link.set_loss("down", percent)
    _wait_until(burst + burst_s)
    link.set_loss("down", 0)
    ended = time.time()
    _wait_until(ended + observe_s)
    probe = call.probe()
    quality = quality_of_agent(probe)
    start, end = _ms(ended), _ms(ended + observe_s)
    return {
        "capped_after_s": None if capped_after is None else round(capped_after, 2),
        "top_before_burst_s": None if top_after is None else round(top_after, 2),
        "audio_only_s": round(time_in_states(quality, _ms(burst), end).get(-1, 0.0), 2),
        "video_back_s": steady_from(probe["frames"], start),
        "top_after_burst_s": steady_from(probe["frames"], start, TOP_WIDTH),
        "timeline": timeline(quality, _ms(burst)),
        "burst_at": round(burst, 3),  # epoch: lines up with the service's log
    }


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "unshaped",
            "no shaping: the call's first 20 s",
            run_unshaped,
            (
                Target("went_audio_only", "0 calls audio only", lambda v: v == 0),
                Target("either_audio_only", "0 calls audio only, either way", lambda v: v == 0),
            ),
            needs_top=False,
        ),
        Scenario(
            "lift_cap_320",
            "no shaping, the viewer lifts a 320 px cap",
            run_lift_cap,
            (
                Target("longest_gap_s", "< 0.5 s without a new frame", lambda v: v < 0.5),
                Target("top_after_s", "640 px again (≤ 5 s)", lambda v: v is not None and v <= 5),
            ),
        ),
        Scenario(
            "down_400",
            "downlink 400 kb/s for 45 s",
            run_downlink_cap(400_000, observe_s=45.0),
            (
                Target("layer_drop_s", "layer drop ≤ 2 s", lambda v: v is not None and v <= 2),
                Target("up_to_top", "0 switches back to 640 px", lambda v: v == 0),
                Target("longest_gap_s", "< 0.5 s without a new frame", lambda v: v < 0.5),
                Target(
                    "failed_up_probes_in_30s",
                    "≤ 1 upward probe the link cannot carry in any 30 s",
                    lambda v: v <= 1,
                ),
            ),
        ),
        Scenario(
            "down_300",
            "downlink 300 kb/s for 45 s",
            run_downlink_cap(300_000, observe_s=45.0),
            (
                Target("on_320_share", "on 320 px ≥ 90 % from 5 s on", lambda v: v >= 0.9),
                Target("longest_gap_s", "< 0.5 s without a new frame", lambda v: v < 0.5),
                Target(
                    "failed_up_probes_in_30s",
                    "≤ 1 upward probe the link cannot carry in any 30 s",
                    lambda v: v <= 1,
                ),
            ),
        ),
        Scenario(
            "down_60",
            "downlink 60 kb/s for 10 s, then lifted",
            run_cap_60_then_lift,
            (
                Target("audio_only_s", "audio only ≤ 2 s", lambda v: v is not None and v <= 2),
                Target(
                    "concealed_first_5s",
                    "audio concealed ≤ 5 % (first 5 s)",
                    lambda v: v is not None and v <= 0.05,
                ),
                Target(
                    "video_back_s",
                    "video plays (2 s on) ≤ 5 s after the lift",
                    lambda v: v is not None and v <= 5,
                ),
                Target(
                    "top_after_lift_s",
                    "640 px plays (2 s on) ≤ 15 s after the lift",
                    lambda v: v is not None and v <= 15,
                ),
            ),
        ),
        Scenario(
            "down_60_floor",
            "downlink 60 kb/s, the viewer audio only at the same moment (a reference)",
            run_cap_60_with_audio_only_after(None),
            (
                Target(
                    "concealed_first_5s",
                    "what no decision can avoid (no target: the floor for down_60)",
                    lambda v: v is not None,
                ),
            ),
        ),
        *(
            Scenario(
                f"down_60_cut_{int(delay * 1000)}ms",
                f"downlink 60 kb/s, the viewer audio only {delay} s after it (a reference)",
                run_cap_60_with_audio_only_after(delay),
                (
                    Target(
                        "concealed_first_5s",
                        f"what a decision {delay} s after the cap gets (no target)",
                        lambda v: v is not None,
                    ),
                ),
            )
            for delay in (0.0, 0.1, 0.15, 0.2, 0.5)
        ),
        Scenario(
            "up_150",
            "citizen's uplink 150 kb/s",
            run_uplink_cap,
            (
                Target(
                    "drop_ratio_after_5s",
                    "< 1 % dropped at the shaper after 5 s",
                    lambda v: v < 0.01,
                ),
            ),
        ),
        Scenario(
            "burst_after_step",
            "80 % loss for 1.5 s, a second after the viewer lifts a 320 px cap",
            run_loss_burst_after_a_step,
            (
                Target(
                    "top_after_burst_s",
                    "640 px plays (2 s on) ≤ 15 s after the burst",
                    lambda v: v is not None and v <= 15,
                ),
            ),
        ),
        Scenario(
            "loss_5",
            "5 % random loss on the downlink",
            run_random_loss,
            (
                Target("went_audio_only", "video kept (never audio only)", lambda v: v == 0),
                Target("seconds_with_video", "frames in every second", lambda v: v >= 1.0),
                Target("seconds_without_audio", "audio in every second", lambda v: v == 0),
            ),
        ),
    )
}


# ---------------------------------------------------------------- running


@dataclass
class Bench:
    link: RealLink
    service: LinkService
    browsers: Browsers


@contextlib.contextmanager
def bench_setup(committed: bool = False, keep_log: Path | None = None) -> Iterator[Bench]:
    """A real link, the service on its host end (from the last commit if ``committed``,
    else as installed), both browsers; all gone on exit (the service's log copied to
    ``keep_log`` first: the SFU's probes and decisions, to read a run afterwards)."""
    with tempfile.TemporaryDirectory(prefix="vg-link-") as scratch:
        source = committed_snapshot(Path(scratch) / "source") if committed else None
        try:
            with (
                real_link() as link,
                serve_on(link, Path(scratch) / "service", source) as service,
                sync_playwright() as playwright,
                launch_browsers(playwright, link, service, Path(scratch)) as browsers,
            ):
                yield Bench(link, service, browsers)
        finally:
            log = Path(scratch) / "service" / "service.log"
            if keep_log is not None and log.exists():
                keep_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log, keep_log)


def run_scenario(bench: Bench, scenario: Scenario) -> Metrics:
    """One fresh call through ``scenario``; the link is unshaped before and after."""
    bench.link.lift_all()
    room = f"link-{scenario.name}-{uuid.uuid4().hex[:6]}"
    call = open_call(bench.browsers, bench.service, room)
    try:
        top_s = wait_for_steady(call, TOP_WIDTH, TOP_TIMEOUT_S) if scenario.needs_top else None
        load = os.getloadavg()[0]
        metrics = scenario.run(call, bench.link)
        if scenario.needs_top:
            metrics["started_on_top"] = top_s is not None
        metrics["load_1min"] = round(load, 2)
        return metrics
    finally:
        bench.link.lift_all()
        call.close()


def summarise(scenario: Scenario, runs: list[Metrics]) -> dict[str, Any]:
    summary: dict[str, Any] = {"title": scenario.title, "runs": runs, "targets": {}}
    for target in scenario.targets:
        values = [r.get(target.metric) for r in runs]
        numbers = [v for v in values if isinstance(v, int | float)]
        summary["targets"][target.metric] = {
            "target": target.text,
            "median": statistics.median(numbers) if numbers else None,
            "min": min(numbers) if numbers else None,
            "max": max(numbers) if numbers else None,
            "values": values,
            "met": sum(1 for v in values if v is not None and target.holds(v)),
            "runs": len(values),
        }
    return summary


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "| scenario | measure | target | median | range | runs meeting it |",
        "|---|---|---|---|---|---|",
    ]
    for name, summary in results["scenarios"].items():
        for metric, t in summary["targets"].items():
            span = "–" if t["min"] is None else f"{t['min']} – {t['max']}"
            lines.append(
                f"| {summary['title']} (`{name}`) | `{metric}` | {t['target']} | "
                f"{t['median'] if t['median'] is not None else 'never'} | {span} | "
                f"{t['met']} / {t['runs']} |"
            )
    return "\n".join(lines)


def source_state(committed: bool) -> dict[str, Any]:
    """Which code the service ran: the commit, and (from the working tree) the files of
    the media path that differed from it when the run started."""
    repo = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    changed = git("status", "--porcelain", "--", "sfu", "signaling", "web", "visioguichet")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": [] if committed else [line[3:] for line in changed.splitlines()],
    }


def main(
    names: Sequence[str],
    repeats: int,
    out_dir: Path,
    committed: bool = False,
    keep_log: Path | None = None,
) -> dict[str, Any]:
    chosen = [SCENARIOS[n] for n in names]
    results: dict[str, Any] = {
        "started_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "source": source_state(committed),
        "repeats": repeats,
        "cpus": os.cpu_count(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "scenarios": {},
    }
    runs: dict[str, list[Metrics]] = {s.name: [] for s in chosen}
    with bench_setup(committed, keep_log) as bench:
        for _ in range(repeats):  # interleaved: a burst of load spreads over all scenarios
            for scenario in chosen:
                try:
                    runs[scenario.name].append(run_scenario(bench, scenario))
                except Exception as exc:  # one failed call is a result, not the end
                    runs[scenario.name].append({"error": repr(exc)})
    results["load_after"] = [round(x, 2) for x in os.getloadavg()]
    results["scenarios"] = {s.name: summarise(s, runs[s.name]) for s in chosen}
    table = markdown(results)
    where = (
        "the service run from the commit itself"
        if committed
        else f"{len(results['source']['uncommitted'])} media-path files uncommitted"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "link.json").write_text(json.dumps(results, indent=1) + "\n")
    (out_dir / "link.md").write_text(
        f"Real-link call quality, {results['started_utc']} UTC, {repeats} run(s) per scenario, "
        f"load average {results['load_before'][0]} → {results['load_after'][0]} "
        f"on {results['cpus']} CPUs, code at {results['source']['commit']}"
        f" ({where}).\n\n{table}\n"
    )
    print(table)
    return results


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated, among: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--committed",
        action="store_true",
        help="run the service from the last commit, not the working tree (shared trees)",
    )
    parser.add_argument(
        "--service-log",
        type=Path,
        default=None,
        help="copy the service's JSON log here at the end (probes, decisions)",
    )
    args = parser.parse_args()
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    main(names, args.repeats, args.out, args.committed, args.service_log)


if __name__ == "__main__":
    run()
