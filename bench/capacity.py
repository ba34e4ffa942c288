"""``python -m bench.capacity``: how many calls one SFU core carries, beside Janus.

Starts our service (SFU pinned to one core where the machine allows), ramps calls in
steps with cheap synthetic participants, measures each step, then does the same
against Janus VideoRoom in a network namespace, in the same run. Writes
``bench/results/capacity.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import structlog

from bench import rtp_pump
from bench.call_load import CallLoad, CallTarget, JanusTarget, OurTarget, StepResult
from bench.participants import PROFILES, CallProfile, Clips
from bench.proc_cpu import machine_info
from bench.report import write_json, write_markdown, write_plot

log = structlog.get_logger(__name__)

RESULTS_DIR = Path(__file__).resolve().parent / "results"
MAX_LOSS = 0.01
MAX_JOIN_P95_S = 2.0
MAX_SFU_CPU_PCT = 85.0
DEFAULT_STEPS = (1, 5, 10, 20, 30, 40, 50)
QUICK_STEPS = (1, 2, 4)


def is_clean(step: StepResult) -> bool:
    return (
        step.failed_calls == 0
        and step.loss < MAX_LOSS
        and (step.join_p95_s is None or step.join_p95_s < MAX_JOIN_P95_S)
        and step.server_cpu_pct < MAX_SFU_CPU_PCT
        and step.pps_out > 0
    )


@contextlib.contextmanager
def niceness(nice: int) -> Iterator[list[str]]:
    """Run at scheduling niceness ``nice``: this process (the servers it starts inherit
    it) and, for the run's duration, its autogroup. With autogroups (Linux's default)
    CPU is first shared between sessions, so a process's own niceness does nothing
    against another session's work. Yields notes on what could not be applied."""
    notes: list[str] = []
    if not nice:
        yield notes
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, nice)
    except OSError as exc:
        notes.append(f"niceness {nice} not applied: {exc}")
    autogroup = Path("/proc/self/autogroup")
    previous: str | None = None
    try:
        previous = autogroup.read_text().split("nice")[-1].strip()
        autogroup.write_text(f"{nice}\n")
    except (OSError, IndexError) as exc:
        previous = None
        notes.append(f"autogroup niceness {nice} not applied: {exc}")
    try:
        yield notes
    finally:
        if previous is not None:
            with contextlib.suppress(OSError):
                autogroup.write_text(f"{previous}\n")


def _core_plan() -> tuple[int | None, set[int]]:
    """Server on one core, the generator on the others (where there are others)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, set(cores)
    return cores[0], set(cores[1:])


async def run_steps(
    target: CallTarget,
    steps: Sequence[int],
    seconds: float,
    deadline: float,
    server_core: int | None = None,
) -> list[StepResult]:
    """Ramp through ``steps`` (cumulative); stop early when far past saturation."""
    load = CallLoad(target, server_core)
    results: list[StepResult] = []
    try:
        for calls in steps:
            if time.monotonic() + seconds + 10 > deadline:
                log.warning("bench_time_budget_reached", server=target.name, calls=calls)
                break
            await load.ramp_to(calls)
            if not load.calls:
                break
            step = await load.measure(seconds)
            results.append(step)
            log.info("bench_step", **{k: v for k, v in step.as_dict().items() if k != "notes"})
            if step.loss > 0.1 or step.server_cpu_pct > 98 or step.generator_cpu_pct > 98:
                break
    finally:
        await load.close()
    return results


def _run_async(factory: Callable[[], Any]) -> Any:
    try:
        import uvloop

        return uvloop.run(factory())
    except ImportError:
        return asyncio.run(factory())


def run_ours(
    profile: CallProfile,
    clips: Clips,
    steps: Sequence[int],
    seconds: float,
    core: int | None,
    deadline: float,
    work: Path,
) -> tuple[list[StepResult], str | None]:
    """Against ``visioguichet serve``; if it cannot start, against ``bench.call_server``."""
    from bench.our_server import ServiceUnavailable, run_service

    notes: list[str] = []
    for calls_only in (False, True):
        try:
            with run_service(work / f"service-{calls_only}", core=core,
                             calls_only=calls_only) as service:  # fmt: skip
                target = OurTarget(service.ws_url, service.signer(), service.pid, profile, clips)
                results = _run_async(partial(run_steps, target, steps, seconds, deadline, core))
                if calls_only:
                    notes.append(
                        "measured bench.call_server (the same signalling + SFU wiring, "
                        "without the booking side)"
                    )
                if not any(r.pps_out > 0 for r in results):
                    notes.append(
                        f"our service forwarded no media; log tail: {service.log_tail(600)}"
                    )
                return results, "; ".join(notes) or None
        except (ServiceUnavailable, ImportError, OSError) as exc:
            last_line = [line for line in str(exc).splitlines() if line.strip()][-1:]
            which = "bench.call_server" if calls_only else "visioguichet serve"
            notes.append(f"{which} could not run: {' '.join(last_line)[:600]}")
    return [], "; ".join(notes)


def run_janus_side(
    profile: CallProfile,
    clips: Clips,
    steps: Sequence[int],
    seconds: float,
    core: int | None,
    deadline: float,
    work: Path,
) -> tuple[list[StepResult], str | None]:
    from bench.janus_server import JanusUnavailable, run_janus

    try:
        with run_janus(log_dir=work, core=core) as janus:
            target = JanusTarget(janus.api_url, janus.pid, profile, clips, janus.client_address)
            results = _run_async(lambda: run_steps(target, steps, seconds, deadline, core))
            return results, None
    except (JanusUnavailable, OSError) as exc:
        return [], f"Janus could not run: {exc}"[:1500]


def median_steps(runs: list[list[StepResult]]) -> list[StepResult]:
    """Per call count, the median of each figure over the repeated runs."""
    runs = [r for r in runs if r]
    if len(runs) <= 1:
        return runs[0] if runs else []
    by_calls: dict[int, list[StepResult]] = {}
    for run in runs:
        for step in run:
            by_calls.setdefault(step.calls, []).append(step)
    merged = []
    for calls in sorted(by_calls):
        group = by_calls[calls]
        first = group[0].as_dict()
        for key, value in first.items():
            values = [getattr(g, key) for g in group if getattr(g, key) is not None]
            if isinstance(value, (int, float)) and not isinstance(value, bool) and values:
                median = statistics.median(values)
                first[key] = type(value)(median) if isinstance(value, int) else round(median, 3)
        first["notes"] = [*first["notes"], f"median of {len(group)} runs"]
        merged.append(StepResult(**first))
    return merged


def merge_steps(ours: list[StepResult], janus: list[StepResult]) -> list[dict[str, Any]]:
    by_calls: dict[int, dict[str, Any]] = {}
    for step in ours:
        by_calls[step.calls] = {
            "calls": step.calls,
            "participants": step.participants,
            "seconds": step.seconds,
            "pps_in": step.pps_in,
            "pps_out": step.pps_out,
            "sfu_cpu_pct": step.server_cpu_pct,
            "us_per_packet": step.us_per_packet,
            "join_p50_s": step.join_p50_s,
            "join_p95_s": step.join_p95_s,
            "media_start_p95_s": step.media_start_p95_s,
            "loss": step.loss,
            "late_packets": step.late_packets,
            "recv_kbps_per_participant": step.recv_kbps_per_participant,
            "generator_cpu_pct": step.generator_cpu_pct,
            "generator_cpu_per_call_pct": step.generator_cpu_per_call_pct,
            "failed_calls": step.failed_calls,
            "decoded_samples": step.decoded_samples,
            "clean": is_clean(step),
            # where a join waits: its phases, the ramp that opened the step's calls, how
            # late each event loop ran, and whether the server's core was shared
            "join_phases_p95_s": step.join_phases_p95_s,
            "subscribe_offer_p95_s": step.subscribe_offer_p95_s,
            "ramp_s": step.ramp_s,
            "ramp_sfu_cpu_pct": step.ramp_server_cpu_pct,
            "ramp_generator_cpu_pct": step.ramp_generator_cpu_pct,
            "keyframe_requests": step.keyframe_requests,
            "generator_lag_p95_ms": step.generator_lag_p95_ms,
            "sfu_probe_p95_ms": step.server_probe_p95_ms,
            "sfu_core_busy_pct": step.server_core_busy_pct,
        }
    for step in janus:
        row = by_calls.setdefault(step.calls, {"calls": step.calls})
        row.update(
            {
                "janus_cpu_pct": step.server_cpu_pct,
                "janus_us_per_packet": step.us_per_packet,
                "janus_pps_out": step.pps_out,
                "janus_join_p95_s": step.join_p95_s,
                "janus_loss": step.loss,
                "janus_late_packets": step.late_packets,
                "janus_generator_cpu_pct": step.generator_cpu_pct,
                "janus_generator_cpu_per_call_pct": step.generator_cpu_per_call_pct,
                "janus_failed_calls": step.failed_calls,
                "janus_clean": is_clean(step),
                "janus_join_phases_p95_s": step.join_phases_p95_s,
                "janus_ramp_s": step.ramp_s,
                "janus_keyframe_requests": step.keyframe_requests,
                "janus_generator_lag_p95_ms": step.generator_lag_p95_ms,
                "janus_probe_p95_ms": step.server_probe_p95_ms,
                "janus_core_busy_pct": step.server_core_busy_pct,
            }
        )
        ours_cpu = row.get("sfu_cpu_pct")
        if ours_cpu is not None and step.server_cpu_pct > 0:
            row["cpu_per_call_ratio"] = round(ours_cpu / step.server_cpu_pct, 3)
    return [by_calls[c] for c in sorted(by_calls)]


def summarize(ours: list[StepResult], janus: list[StepResult]) -> dict[str, Any]:
    clean = [s for s in ours if is_clean(s)]
    best = max(clean, key=lambda s: s.calls) if clean else None
    projected = None
    if best is not None and best.server_cpu_pct > 0:
        projected = int(MAX_SFU_CPU_PCT / (best.server_cpu_pct / best.calls))
    janus_clean = [s.calls for s in janus if is_clean(s)]
    janus_best = max((s for s in janus if is_clean(s)), key=lambda s: s.calls, default=None)
    janus_projected = None
    if janus_best is not None and janus_best.server_cpu_pct > 0:
        janus_projected = int(MAX_SFU_CPU_PCT / (janus_best.server_cpu_pct / janus_best.calls))
    return {
        "generator_cpu_per_call_pct": best.generator_cpu_per_call_pct if best else None,
        "generator_to_sfu_cpu_ratio": (
            round(best.generator_cpu_pct / best.server_cpu_pct, 3)
            if best and best.server_cpu_pct > 0
            else None
        ),
        "srtp_profile": next((s.srtp_profile for s in ours if s.srtp_profile), None),
        "janus_srtp_profile": next((s.srtp_profile for s in janus if s.srtp_profile), None),
        "capacity_calls": best.calls if best else 0,
        "capacity_cpu_per_call_pct": round(best.server_cpu_pct / best.calls, 3) if best else None,
        "projected_capacity_calls": projected,
        "janus_capacity_calls": max(janus_clean) if janus_clean else (0 if janus else None),
        "janus_projected_capacity_calls": janus_projected,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few short steps")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="video")
    parser.add_argument("--steps", help="comma-separated call counts, e.g. 1,5,10,20")
    parser.add_argument("--seconds", type=float, help="measured window per step")
    parser.add_argument("--no-janus", action="store_true", help="skip the Janus side")
    parser.add_argument("--no-ours", action="store_true", help="skip our service")
    parser.add_argument(
        "--sender",
        choices=("pump", "track"),
        default="pump",
        help="pump: raw RTP replay by one task (cheap); track: aiortc's av.Packet path",
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="interleaved ours/Janus runs; medians reported"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling niceness of the bench, our service and Janus (inherited); e.g. -5 "
        "on a machine shared with other work, so it perturbs the measurement less",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--max-minutes", type=float, default=20.0, help="time budget for the whole run"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    deadline = started + args.max_minutes * 60
    profile = PROFILES[args.profile]
    steps = (
        tuple(int(s) for s in args.steps.split(","))
        if args.steps
        else (QUICK_STEPS if args.quick else DEFAULT_STEPS)
    )
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    server_core, generator_cores = _core_plan()
    if server_core is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, generator_cores)
    rtp_pump.enabled = args.sender == "pump"
    clips = Clips.for_profile(profile)
    notes: list[str] = []
    with (
        niceness(args.nice) as nice_notes,
        tempfile.TemporaryDirectory(prefix="vgbench-") as tmp,
    ):
        notes.extend(nice_notes)
        work = Path(tmp)
        ours_runs: list[list[StepResult]] = []
        janus_runs: list[list[StepResult]] = []
        sides = (0 if args.no_ours else 1) + (0 if args.no_janus else 1)
        slices = max(1, sides * args.repeats)
        for repeat in range(args.repeats):  # A/B interleaved: drift hits both sides alike
            for side in ("ours", "janus"):
                if (side == "ours" and args.no_ours) or (side == "janus" and args.no_janus):
                    continue
                done = len(ours_runs) + len(janus_runs)
                budget_end = started + (deadline - started) * (done + 1) / slices
                runner = run_ours if side == "ours" else run_janus_side
                results, reason = runner(
                    profile, clips, steps, seconds, server_core, budget_end, work
                )
                (ours_runs if side == "ours" else janus_runs).append(results)
                if reason:
                    notes.append(f"run {repeat + 1}: {reason}" if args.repeats > 1 else reason)
        ours = median_steps(ours_runs)
        janus = median_steps(janus_runs)
    result: dict[str, Any] = {
        "profile": profile.name,
        "profile_description": profile.description,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m bench.capacity", shlex.join(argv or sys.argv[1:])]).strip(),
        "machine": machine_info(),
        "server_core": server_core,
        "generator_cores": sorted(generator_cores),
        "seconds_per_step": seconds,
        "repeats": args.repeats,
        "sender": args.sender,
        "niceness": os.getpriority(os.PRIO_PROCESS, 0),
        "criteria": {
            "max_loss": MAX_LOSS,
            "max_join_p95_s": MAX_JOIN_P95_S,
            "max_sfu_cpu_pct": MAX_SFU_CPU_PCT,
        },
        "steps": merge_steps(ours, janus),
        "ours_raw": [s.as_dict() for s in ours],
        "janus_raw": [s.as_dict() for s in janus],
        **summarize(ours, janus),
        "notes": notes,
        "duration_s": round(time.monotonic() - started, 1),
    }
    out: Path = args.out
    write_json(result, out / "capacity.json")
    write_markdown(result, out / "capacity.md")
    write_plot(result, out / "capacity.png")
    print((out / "capacity.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
