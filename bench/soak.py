"""``python -m bench.soak --minutes N``: does the server give back what each call takes?

Starts the real service (``bench.soak_server``: ``visioguichet serve --demo`` plus a
route counting its asyncio tasks) and, until the time is up, repeats one cycle: a 1:1
call between two real aiortc participants joined through the signalling server (the
bench's bots), held a few seconds then left, and a booking made then cancelled through
the REST API. The server's resident memory (``/proc/<pid>/status`` VmRSS), open file
descriptors (``/proc/<pid>/fd``) and asyncio tasks are sampled every few seconds, and
once per cycle when nothing is open (the *idle* samples, comparable from cycle to
cycle). After a warm-up, each figure's growth over the idle samples and its slope are
checked against bounds: a leak of one socket, task or peer connection per call passes
them within a few cycles. Writes ``soak.json`` and ``soak.md``; exits 1 when a bound is
passed or too many cycles failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import structlog

from bench.call_load import OurTarget
from bench.our_server import RunningService, run_service
from bench.participants import PROFILES, Clips
from bench.report import write_json
from bench.rtp_pump import close_pump
from bench.soak_server import TASKS_PATH

log = structlog.get_logger(__name__)

DEMO_MOTIF = "demo-motif-info"
MEDIA_TIMEOUT_S = 20.0
SETTLE_S = 1.0  # after a call's leave: the server closes its side asynchronously
ALLOWED_FAILED_CYCLES = 0.1


DEFAULT_RSS_GROWTH_KB = 30_000.0
DEFAULT_FD_GROWTH = 4.0
DEFAULT_TASK_GROWTH = 6.0


@dataclass(frozen=True, slots=True)
class Bounds:
    """How much a figure may grow over the idle samples after the warm-up."""

    rss_kb: float = DEFAULT_RSS_GROWTH_KB
    fds: float = DEFAULT_FD_GROWTH
    tasks: float = DEFAULT_TASK_GROWTH


@dataclass
class Sample:
    t_s: float  # since the start of the soak
    rss_kb: int
    fds: int
    tasks: int
    idle: bool  # taken between cycles, with no call open and no request in flight


@dataclass
class SoakRun:
    cycles: int = 0
    failed_cycles: int = 0
    calls: int = 0
    bookings: int = 0
    cancellations: int = 0
    media_packets: int = 0
    errors: list[str] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def asyncio_tasks(http: aiohttp.ClientSession, service: RunningService) -> int:
    async with http.get(service.base_url + TASKS_PATH) as reply:
        reply.raise_for_status()
        return int((await reply.json())["tasks"])


async def take_sample(
    http: aiohttp.ClientSession, service: RunningService, started: float, *, idle: bool
) -> Sample:
    tasks = await asyncio_tasks(http, service)
    return Sample(
        round(time.monotonic() - started, 2),
        rss_kb(service.pid),
        open_fds(service.pid),
        tasks,
        idle,
    )


async def book_and_cancel(http: aiohttp.ClientSession, base: str, rng: random.Random) -> None:
    """One citizen's booking through the REST API, cancelled with its manage link."""
    async with http.get(f"{base}/api/motifs/{DEMO_MOTIF}/slots") as reply:
        reply.raise_for_status()
        slots = (await reply.json())["slots"]
    soon = datetime.now(UTC) + timedelta(hours=1)  # clear of the motif's minimum notice
    free = [s for s in slots if datetime.fromisoformat(s["start"]) > soon]
    if not free:
        raise RuntimeError("no free slot to book")
    body = {
        "motif_id": DEMO_MOTIF,
        "start": rng.choice(free[:40])["start"],
        "citizen": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
    async with http.post(f"{base}/api/bookings", json=body) as reply:
        if reply.status != 201:
            raise RuntimeError(f"booking refused: {reply.status} {await reply.text()}")
        booking = await reply.json()
    token = booking["manage_url"].split("#token=", 1)[1]
    async with http.post(f"{base}/api/manage/{token}/cancel", json={}) as reply:
        if reply.status != 200:
            raise RuntimeError(f"cancel refused: {reply.status} {await reply.text()}")


async def hold_a_call(target: OurTarget, index: int, hold_s: float) -> int:
    """Open a 1:1 call, check media flows both ways, hold it, leave; the packets received."""
    bots = await target.open_call(index)
    try:
        async with asyncio.timeout(MEDIA_TIMEOUT_S):
            await asyncio.gather(*(bot.stats.media_arrived.wait() for bot in bots))
        await asyncio.sleep(hold_s)
        return sum(kind.packets for bot in bots for kind in bot.stats.kinds.values())
    finally:
        await asyncio.gather(*(bot.close() for bot in bots), return_exceptions=True)


async def sample_periodically(
    http: aiohttp.ClientSession,
    service: RunningService,
    started: float,
    run: SoakRun,
    every_s: float,
) -> None:
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(aiohttp.ClientError, OSError):
            run.samples.append(await take_sample(http, service, started, idle=False))


async def soak(service: RunningService, args: argparse.Namespace) -> SoakRun:
    profile = PROFILES[args.profile]
    target = OurTarget(
        service.ws_url, service.signer(), service.pid, profile, Clips.for_profile(profile)
    )
    rng = random.Random(args.seed)
    run = SoakRun()
    started = time.monotonic()
    deadline = started + args.minutes * 60
    async with aiohttp.ClientSession() as http:
        run.samples.append(await take_sample(http, service, started, idle=True))
        sampler = asyncio.create_task(
            sample_periodically(http, service, started, run, args.sample_seconds)
        )
        try:
            while time.monotonic() < deadline:
                run.cycles += 1
                try:
                    packets, _ = await asyncio.gather(
                        hold_a_call(target, run.cycles, args.call_seconds),
                        book_and_cancel(http, service.base_url, rng),
                    )
                    run.calls += 1
                    run.bookings += 1
                    run.cancellations += 1
                    run.media_packets += packets
                except Exception as error:  # a failed cycle is counted and the soak goes on
                    run.failed_cycles += 1
                    run.errors.append(f"cycle {run.cycles}: {type(error).__name__}: {error}")
                    log.warning("soak_cycle_failed", cycle=run.cycles, error=str(error))
                await asyncio.sleep(SETTLE_S)
                run.samples.append(await take_sample(http, service, started, idle=True))
        finally:
            sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampler
            await close_pump()
    return run


def slope_per_minute(points: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per minute."""
    if len(points) < 2:
        return None
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_mean, y_mean = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - x_mean) ** 2 for x in xs)
    if spread == 0:
        return None
    return 60 * sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, ys, strict=True)) / spread


def analyse(run: SoakRun, warmup_s: float, bounds: Bounds) -> dict[str, Any]:
    """Growth of each figure over the idle samples after the warm-up: the median of the
    last three minus that of the first three (one noisy sample moves neither)."""
    idle = [s for s in run.samples if s.idle and s.t_s >= warmup_s]
    figures: dict[str, Any] = {}
    for name in ("rss_kb", "fds", "tasks"):
        values = [getattr(s, name) for s in idle]
        bound = getattr(bounds, name)
        if len(values) < 2:
            figures[name] = {"samples": len(values), "bound": bound, "ok": None}
            continue
        head = statistics.median(values[:3])
        tail = statistics.median(values[-3:])
        growth = tail - head
        figures[name] = {
            "samples": len(values),
            "first": head,
            "last": tail,
            "growth": growth,
            "slope_per_min": slope_per_minute([(s.t_s, getattr(s, name)) for s in idle]),
            "max": max(values),
            "bound": bound,
            "ok": growth <= bound,
        }
    return figures


def verdict(run: SoakRun, figures: dict[str, Any]) -> list[str]:
    """Why the soak fails (empty: it passes)."""
    reasons = []
    for name, figure in figures.items():
        if figure["ok"] is False:
            reasons.append(f"{name} grew by {figure['growth']:g} (bound {figure['bound']:g})")
        elif figure["ok"] is None:
            reasons.append(f"{name}: too few idle samples after the warm-up to judge")
    if run.cycles == 0 or run.failed_cycles > ALLOWED_FAILED_CYCLES * run.cycles:
        reasons.append(f"{run.failed_cycles} of {run.cycles} cycles failed")
    return reasons


def markdown(result: dict[str, Any]) -> str:
    run = result["run"]
    lines = [
        f"### Soak — {result['minutes']} min, {run['cycles']} cycles",
        "",
        f"- date: {result['date']}",
        f"- command: `{result['command']}`",
        f"- {run['calls']} calls ({result['profile']}, held {result['call_seconds']} s), "
        f"{run['bookings']} bookings made and cancelled, {run['failed_cycles']} cycles failed",
        f"- warm-up {result['warmup_seconds']} s; idle samples after each cycle",
        f"- verdict: {'pass' if result['passed'] else 'FAIL: ' + '; '.join(result['reasons'])}",
        "",
        "| figure | first | last | growth | slope /min | max | bound | ok |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, figure in result["figures"].items():
        cells = [
            figure.get(key) for key in ("first", "last", "growth", "slope_per_min", "max", "bound")
        ]
        shown = ["–" if c is None else f"{c:.0f}" if abs(c) >= 100 else f"{c:.3g}" for c in cells]
        ok = {True: "yes", False: "**no**", None: "–"}[figure["ok"]]
        lines.append(f"| {name} | " + " | ".join(shown) + f" | {ok} |")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long to soak")
    parser.add_argument(
        "--warmup-seconds", type=float, default=None, help="default: 30%% of the run, at most 120 s"
    )
    parser.add_argument("--sample-seconds", type=float, default=3.0)
    parser.add_argument(
        "--call-seconds", type=float, default=2.0, help="how long each call is held"
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="video-small")
    parser.add_argument("--max-rss-growth-kb", type=float, default=DEFAULT_RSS_GROWTH_KB)
    parser.add_argument("--max-fd-growth", type=float, default=DEFAULT_FD_GROWTH)
    parser.add_argument("--max-task-growth", type=float, default=DEFAULT_TASK_GROWTH)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    return parser.parse_args(argv)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warmup_s = args.warmup_seconds
    if warmup_s is None:
        warmup_s = min(120.0, 0.3 * args.minutes * 60)
    bounds = Bounds(args.max_rss_growth_kb, args.max_fd_growth, args.max_task_growth)
    with (
        tempfile.TemporaryDirectory(prefix="vg-soak-") as data_dir,
        run_service(Path(data_dir), demo=True, entry_module="bench.soak_server") as service,
    ):
        run = asyncio.run(soak(service, args))
        log_tail = service.log_tail(1500)
    figures = analyse(run, warmup_s, bounds)
    reasons = verdict(run, figures)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.soak " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "minutes": args.minutes,
        "warmup_seconds": warmup_s,
        "sample_seconds": args.sample_seconds,
        "call_seconds": args.call_seconds,
        "profile": args.profile,
        "bounds": asdict(bounds),
        "figures": figures,
        "passed": not reasons,
        "reasons": reasons,
        "run": asdict(run),
        "server_log_tail": log_tail if reasons else "",
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(result, args.out / "soak.json")
    table = markdown(result)
    (args.out / "soak.md").write_text(table)
    print(table)
    return 0 if not reasons else 1


if __name__ == "__main__":
    sys.exit(main())
