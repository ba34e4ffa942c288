"""The CPU a bare UDP relay in C spends per datagram here: the floor under the SFU's figure.

``bench/udp_relay_floor.c`` (compiled on first use with the C compiler the SFU's own
extension needs) forwards the same number of streams at the same rate and packet size as
a ``forward_cost`` run, between sockets on 127.0.0.1, with epoll, recvmmsg and sendmmsg
and nothing else: no SRTP, no RTCP, no rewrite, no Python. What it costs per datagram is
what this host charges for a wake-up, the system calls and the loopback delivery into
the receiver's socket (the kernel bills the sender for that). The SFU's figure over this
floor, measured in the same run, is what our own work costs; it holds when the host's
speed drifts, which the absolute figures do not.

    python -m bench.relay_floor STREAMS RATE SECONDS SIZE
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).with_name("udp_relay_floor.c")


def binary() -> Path:
    """The relay, compiled once per version of its source (in the temporary directory)."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"visioguichet-udp-relay-floor-{digest}"
    if not target.exists():
        partial = target.with_suffix(f".{os.getpid()}")
        compiler = os.environ.get("CC", "cc")
        subprocess.run([compiler, "-O2", "-o", str(partial), str(SOURCE)], check=True, timeout=120)
        partial.replace(target)
    return target


def measure(streams: int, rate: float, seconds: float, size: int) -> dict[str, Any]:
    """The relay's CPU µs per forwarded datagram (``us_per_packet``), and its rate."""
    if streams < 1 or rate <= 0 or seconds <= 0 or not 1 <= size <= 2048:
        raise ValueError("streams >= 1, rate > 0, seconds > 0, size 1-2048")
    done = subprocess.run(
        [str(binary()), str(streams), f"{rate:.3f}", f"{seconds:.3f}", str(size)],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("streams", type=int)
    parser.add_argument("rate", type=float, help="datagrams a second per stream")
    parser.add_argument("seconds", type=float)
    parser.add_argument("size", type=int, help="bytes per datagram")
    args = parser.parse_args()
    try:
        print(json.dumps(measure(args.streams, args.rate, args.seconds, args.size)))
    except ValueError as error:
        parser.error(str(error))


if __name__ == "__main__":
    run()
