"""``python -m bench.nodes``: the same calls on one node and on ``--nodes 2``.

For each layout, on this machine: a steady 1:1 load (``--calls`` calls opened a few
at a time, then a measured window: each node's CPU, CPU per call, loss, join p95),
then a join storm (``--storm`` calls, two participants each, all starting within
``--storm-window`` seconds, as appointments do on the hour: join p95, media-start
p95, failed joins). One node is today's single process (SQLite, no Redis); two nodes
run under the supervisor with PostgreSQL (``--database-url``) and Redis (a private
``redis-server`` unless ``--redis-url``). The load generator (aiortc bots) runs in
this process, on the same cores as the nodes: on a 2-core machine it competes with
them, which the figures include. Writes ``bench/results/nodes.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from bench.call_load import CALL_OPEN_TIMEOUT_S, CallLoad, OurTarget, _percentile
from bench.capacity import niceness
from bench.our_server import free_port, run_service
from bench.participants import PROFILES, Clips
from bench.proc_cpu import CpuWindow, machine_info
from bench.report import write_json
from bench.rtp_pump import close_pump

log = structlog.get_logger(__name__)

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def private_redis(work: Path) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("bench.nodes: no redis-server; pass --redis-url")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench.nodes: redis-server did not start") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


async def empty_database(url: str) -> None:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def node_pids(pid: int, nodes: int) -> list[int]:
    """The node processes: the service itself, or the supervisor's children."""
    if nodes == 1:
        return [pid]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        if len(text) >= nodes:
            return [int(p) for p in text]
        time.sleep(0.2)
    raise RuntimeError("the supervisor's nodes did not all start")


async def idle_cpu(pids: Sequence[int], seconds: float) -> list[float]:
    """Each node's CPU % with no call (heartbeats, pollers): subtracted per call."""
    windows = [CpuWindow(pid) for pid in pids]
    for window in windows:
        window.start()
    await asyncio.sleep(seconds)
    return [round(w.stop(), 2) for w in windows]


async def steady(target: OurTarget, pids: Sequence[int], calls: int, seconds: float) -> dict:
    idle = await idle_cpu(pids, seconds)
    load = CallLoad(target)
    try:
        await load.ramp_to(calls)
        windows = [CpuWindow(pid) for pid in pids]
        for window in windows:
            window.start()
        step = await load.measure(seconds)
        per_node = [round(w.stop(), 1) for w in windows]
    finally:
        with contextlib.suppress(AttributeError, OSError):  # see _close_pump
            await load.close()
    total = sum(per_node)
    above_idle = total - sum(idle)
    return {
        "calls": step.calls,
        "failed_calls": step.failed_calls,
        "node_idle_cpu_pct": idle,
        "node_cpu_pct": per_node,
        "cpu_pct_total": round(total, 1),
        "cpu_pct_per_call": round(total / step.calls, 2) if step.calls else None,
        "cpu_pct_per_call_above_idle": round(above_idle / step.calls, 2) if step.calls else None,
        "loss": step.loss,
        "join_p95_s": step.join_p95_s,
        "media_start_p95_s": step.media_start_p95_s,
        "generator_cpu_pct": step.generator_cpu_pct,
        "recv_kbps_per_participant": step.recv_kbps_per_participant,
    }


async def storm(target: OurTarget, calls: int, window_s: float, first_index: int) -> dict:
    """Every call starts at its moment within the window, not gated by the others."""
    opened: list[list[Any]] = []
    failed: list[str] = []
    t0 = time.monotonic()

    async def open_one(i: int) -> None:
        await asyncio.sleep(window_s * i / max(1, calls))
        try:
            async with asyncio.timeout(CALL_OPEN_TIMEOUT_S):
                opened.append(await target.open_call(first_index + i))
        except Exception as exc:
            failed.append(repr(exc)[:200])

    await asyncio.gather(*(open_one(i) for i in range(calls)))
    opened_s = time.monotonic() - t0
    await asyncio.sleep(3)  # media of the last calls to arrive
    bots = [bot for call in opened for bot in call]
    joins = [b.join_s for b in bots if b.join_s is not None]
    starts = [b.media_start_s for b in bots if b.media_start_s is not None]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
    await _close_pump()
    p95 = _percentile(joins, 95)
    media_p95 = _percentile(starts, 95)
    return {
        "calls": calls,
        "participants": 2 * calls,
        "window_s": window_s,
        "all_opened_within_s": round(opened_s, 2),
        "failed_calls": len(failed),
        "failures": sorted(set(failed))[:5],
        "joined_participants": len(joins),
        "media_started_participants": len(starts),
        "join_p50_s": None if not joins else round(_percentile(joins, 50) or 0, 3),
        "join_p95_s": None if p95 is None else round(p95, 3),
        "media_start_p95_s": None if media_p95 is None else round(media_p95, 3),
    }


async def _close_pump() -> None:
    """The shared RTP pump, once its bots are gone (one whose socket closed first has
    nothing left to send: not a result of the run)."""
    with contextlib.suppress(AttributeError, OSError):
        await close_pump()


async def measure_layout(
    target: OurTarget, pids: Sequence[int], args: argparse.Namespace
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    result["steady"] = await steady(target, pids, args.calls, args.seconds)
    log.info("bench_nodes_steady", nodes=len(pids), **result["steady"])
    for size in args.storm:
        key = f"storm_{size}"
        result[key] = await storm(target, size, args.storm_window, 10_000 * size)
        log.info("bench_nodes_storm", nodes=len(pids), **result[key])
    return result


def run_layout(nodes: int, args: argparse.Namespace, work: Path, redis_url: str) -> dict:
    profile = PROFILES[args.profile]
    clips = Clips.for_profile(profile)
    extra: list[str] = []
    if nodes > 1:
        asyncio.run(empty_database(args.database_url))
        extra = ["--nodes", str(nodes), "--database-url", args.database_url]
        extra += ["--redis-url", redis_url]
    with run_service(work / f"nodes-{nodes}", extra=extra) as service:
        pids = node_pids(service.pid, nodes)
        target = OurTarget(service.ws_url, service.signer(), service.pid, profile, clips)
        return {"nodes": nodes, **asyncio.run(measure_layout(target, pids, args))}


def table(results: list[dict]) -> list[dict[str, Any]]:
    rows = []
    for r in results:
        s = r["steady"]
        rows.append(
            {
                "nodes": r["nodes"],
                "what": f"steady {s['calls']} calls",
                "node CPU % (idle)": " + ".join(
                    f"{c} ({i})"
                    for c, i in zip(s["node_cpu_pct"], s["node_idle_cpu_pct"], strict=True)
                ),
                "CPU % per call": s["cpu_pct_per_call"],
                "above idle": s["cpu_pct_per_call_above_idle"],
                "loss": s["loss"],
                "join p95 s": s["join_p95_s"],
                "media start p95 s": s["media_start_p95_s"],
                "failed": s["failed_calls"],
            }
        )
        storms = [k for k in r if k.startswith("storm_")]
        for key in sorted(storms, key=lambda k: int(k.removeprefix("storm_"))):
            st = r[key]
            rows.append(
                {
                    "nodes": r["nodes"],
                    "what": f"storm {st['calls']} calls / {st['window_s']} s",
                    "node CPU % (idle)": "",
                    "CPU % per call": "",
                    "above idle": "",
                    "loss": "",
                    "join p95 s": st["join_p95_s"],
                    "media start p95 s": st["media_start_p95_s"],
                    "failed": st["failed_calls"],
                }
            )
    return rows


def markdown(document: dict[str, Any]) -> str:
    rows = table(document["results"])
    lines = [
        "# One node and two nodes on this machine",
        "",
        f"`{document['command']}` — {document['started']}, profile {document['profile']}.",
        "One node: today's single process (SQLite, no Redis); two: `serve --nodes 2` with",
        "PostgreSQL and Redis. The load generator shares the cores with the nodes.",
        "",
    ]
    if rows:
        lines.append("| " + " | ".join(rows[0]) + " |")
        lines.append("|" + "---|" * len(rows[0]))
        lines += ["| " + " | ".join(str(v) for v in row.values()) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.nodes", description=__doc__)
    parser.add_argument("--database-url", required=True, help="PostgreSQL for 2 nodes (emptied)")
    parser.add_argument("--redis-url", help="default: a private redis-server")
    parser.add_argument("--profile", choices=sorted(PROFILES), default="video")
    parser.add_argument("--calls", type=int, default=6, help="steady 1:1 calls")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window")
    parser.add_argument(
        "--storm",
        type=lambda text: [int(v) for v in text.split(",") if v],
        default=[100],
        help="storm sizes in calls, comma-separated (e.g. 25,50,100)",
    )
    parser.add_argument("--storm-window", type=float, default=5.0)
    parser.add_argument("--layouts", default="1,2", help="node counts to run, e.g. 1,2")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling niceness of the run (e.g. -10 on a machine other work shares)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    with (
        niceness(args.nice) as nice_notes,
        tempfile.TemporaryDirectory(prefix="bench-nodes-") as tmp,
    ):
        work = Path(tmp)
        with contextlib.ExitStack() as stack:
            redis_url = args.redis_url or stack.enter_context(private_redis(work))
            results = [
                run_layout(int(n), args, work, redis_url) for n in args.layouts.split(",") if n
            ]
    document = {
        "bench": "nodes",
        "command": "python -m bench.nodes " + " ".join(sys.argv[1:] if argv is None else argv),
        "started": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "profile": args.profile,
        "notes": nice_notes,
        "results": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(document, args.out / "nodes.json")
    (args.out / "nodes.md").write_text(markdown(document))
    print((args.out / "nodes.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
