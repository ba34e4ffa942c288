"""Requests per second of the booking API's validation path, on the real application.

``python -m bench.api_throughput [--seconds 10] [--concurrency 16]`` starts the booking
application (the composition's mount under ``/api``, demo data, SQLite in a temporary
folder, the public booking limit off) in a process of its own on 127.0.0.1, then drives
it with an aiohttp client for a fixed time per case:

- ``slots``: ``GET /api/motifs/{id}/slots`` (query dates parsed, slots computed);
- ``book``: ``POST /api/bookings`` on distinct free slots; once they are all taken the
  answers are 409 ``slot-taken``, which still pays the whole validation and the lookup;
- ``book-invalid``: ``POST /api/bookings`` whose citizen has a control character in its
  name and a bad email: the validation path alone, answered 422.

The server runs in its own process so the client's work is not counted against it;
each figure is the server's throughput with that many requests in flight, and the
server process's CPU time per request (steadier than the rate on a shared machine).
Prints one JSON line per case.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any

import aiohttp

MOTIF = "demo-motif-info"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(port: int, data_dir: Path) -> None:
    """The server side: the booking app alone, as the composition mounts it."""
    from aiohttp import web
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from booking_api import BookingConfig, create_app
    from visioguichet.join_token import JoinTokenSigner

    config = BookingConfig(data_dir=data_dir, demo=True, public_booking_burst=0, worker_poll_s=5.0)
    root = web.Application()
    root.add_subapp("/api", create_app(config, JoinTokenSigner(Ed25519PrivateKey.generate())))
    web.run_app(root, host="127.0.0.1", port=port, print=None, access_log=None)


async def _wait_up(session: aiohttp.ClientSession, base: str, within_s: float = 30) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            async with session.get(f"{base}/api/services") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("the booking server did not start")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux ``/proc``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _drive(
    session: aiohttp.ClientSession,
    request: Any,
    seconds: float,
    concurrency: int,
    server_pid: int,
) -> dict[str, Any]:
    statuses: Counter[int] = Counter()
    stop = time.monotonic() + seconds

    async def worker() -> None:
        while time.monotonic() < stop:
            method, url, body = request()
            async with session.request(method, url, json=body) as response:
                await response.read()
                statuses[response.status] += 1

    started, cpu_before = time.monotonic(), _cpu_seconds(server_pid)
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed, cpu = time.monotonic() - started, _cpu_seconds(server_pid) - cpu_before
    total = sum(statuses.values())
    return {
        "requests": total,
        "seconds": round(elapsed, 2),
        "req_per_s": round(total / elapsed, 1),
        # On a shared machine the rate follows the other load; the server's own CPU
        # time per request does much less so.
        "server_cpu_ms_per_request": round(1000 * cpu / max(total, 1), 3),
        "statuses": dict(sorted(statuses.items())),
    }


async def measure(
    base: str, seconds: float, concurrency: int, server_pid: int
) -> list[dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await _wait_up(session, base)
        async with session.get(f"{base}/api/motifs/{MOTIF}/slots") as response:
            slots = (await response.json())["slots"]
        starts = [s["start"] for s in slots]
        numbers = count()
        results = []

        def slots_request() -> tuple[str, str, Any]:
            return "GET", f"{base}/api/motifs/{MOTIF}/slots", None

        def book_request() -> tuple[str, str, Any]:
            n = next(numbers)
            return (
                "POST",
                f"{base}/api/bookings",
                {
                    "motif_id": MOTIF,
                    "start": starts[n % len(starts)],
                    "citizen": {"name": f"Camille Martin {n}", "email": f"c{n}@example.org"},
                },
            )

        def invalid_request() -> tuple[str, str, Any]:
            return (
                "POST",
                f"{base}/api/bookings",
                {
                    "motif_id": MOTIF,
                    "start": starts[0],
                    "citizen": {"name": "Camille\u202eMartin", "email": "camille@"},
                },
            )

        for name, request in (
            ("slots", slots_request),
            ("book", book_request),
            ("book-invalid", invalid_request),
        ):
            result = await _drive(session, request, seconds, concurrency, server_pid)
            results.append({"case": name, "concurrency": concurrency, **result})
            print(json.dumps(results[-1]), flush=True)
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per case")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.data_dir)
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.api_throughput",
                "--serve",
                str(port),
                "--data-dir",
                data_dir,
            ],
            env=os.environ | {"PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,  # the server's log lines (one per mail) would
            stderr=subprocess.DEVNULL,  # drown the figures
        )
        try:
            asyncio.run(
                measure(f"http://127.0.0.1:{port}", args.seconds, args.concurrency, server.pid)
            )
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
