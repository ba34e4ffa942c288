"""``python -m bench.load``: start the service and run the Locust load headless.

Writes Locust's CSV files (``locust_stats.csv``, ``locust_stats_history.csv``,
``locust_failures.csv``, ``locust_exceptions.csv``) and HTML report
(``locust.html``) into ``--out`` (default ``bench/results``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.our_server import REPO_ROOT, run_service

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--calls", type=int, default=2, help="simultaneous calls")
    parser.add_argument("--booking-users", type=int, default=2)
    parser.add_argument("--profile", default="video")
    parser.add_argument("--run-time", default="30s", help="Locust -t, e.g. 30s, 5m")
    parser.add_argument("--spawn-rate", type=float, default=4.0)
    parser.add_argument("--stay-s", type=float, default=0.0, help="rejoin after; 0 = stay")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--host", help="use a running service (its --data-dir is required)")
    parser.add_argument("--data-dir", type=Path)
    return parser.parse_args(argv)


def run_locust(args: argparse.Namespace, host: str, data_dir: Path) -> int:
    per_call = 3 if args.profile == "group3" else 2
    call_users = args.calls * per_call
    args.out.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "VISIOGUICHET_DATA_DIR": str(data_dir),
        "BENCH_PROFILE": args.profile,
        "BENCH_CALL_USERS": str(call_users),
        "BENCH_STAY_S": str(args.stay_s),
        "BENCH_RUN_ID": str(int(time.time())),
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    command = [
        sys.executable, "-m", "locust", "-f", str(REPO_ROOT / "bench" / "locustfile.py"),
        "--headless", "--host", host,
        "-u", str(call_users + args.booking_users), "-r", str(args.spawn_rate),
        "-t", args.run_time, "--stop-timeout", "10",
        "--csv", str(args.out / "locust"), "--csv-full-history",
        "--html", str(args.out / "locust.html"), "--only-summary", "--exit-code-on-error", "0",
    ]  # fmt: skip
    return subprocess.run(
        command, env=env, cwd=REPO_ROOT, timeout=_budget_s(args.run_time)
    ).returncode


def _budget_s(run_time: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    seconds = (
        float(run_time[:-1]) * units[run_time[-1]] if run_time[-1] in units else float(run_time)
    )
    return seconds + 90


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.host:
        if not args.data_dir:
            raise SystemExit("--host needs --data-dir (the join-token key is read from it)")
        return run_locust(args, args.host, args.data_dir)
    with (
        tempfile.TemporaryDirectory(prefix="vgbench-load-") as tmp,
        run_service(Path(tmp) / "service", demo=True) as service,
    ):
        return run_locust(args, service.base_url, service.data_dir)


if __name__ == "__main__":
    raise SystemExit(main())
