"""Our service as the users run it (``python -m visioguichet serve``), for the bench.

Started as its own process on 127.0.0.1 with loopback-only ICE, optionally pinned to
one core so its CPU % reads as "share of one SFU core". Join tokens are minted with
the same key file the service reads from its data folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 40.0
REPO_ROOT = Path(__file__).resolve().parent.parent


class ServiceUnavailable(RuntimeError):
    """The service did not start (the message holds the end of its log)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    pid: int
    base_url: str
    data_dir: Path
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"

    def signer(self) -> Any:
        from visioguichet.join_token import load_or_create_signer

        return load_or_create_signer(self.data_dir / "join-token.key")

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def _pinning(core: int | None) -> Callable[[], None] | None:
    if core is None:
        return None

    def pin() -> None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})

    return pin


@contextlib.contextmanager
def run_service(
    data_dir: Path,
    *,
    core: int | None = None,
    demo: bool = False,
    extra: Sequence[str] = (),
    calls_only: bool = False,
    entry_module: str = "visioguichet",
) -> Iterator[RunningService]:
    """Start the service (pinned to ``core`` if given); stop it on exit.

    ``calls_only`` runs ``bench.call_server`` (signalling + SFU, same wiring) instead
    of the whole ``visioguichet serve``; ``entry_module`` another module taking the
    same ``serve`` arguments (``bench.soak_server``).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        sys.executable, "-m", entry_module, "serve",
        "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port),
        "--ice-address", "127.0.0.1", "--allow-remote-network", "127.0.0.0/8",
        "--log-format", "json", "--log-level", "warning",
        "--public-booking-burst", "0",  # every Locust user books from 127.0.0.1
        *extra,
    ]  # fmt: skip
    if calls_only:
        args[1:4] = ["-m", "bench.call_server"]
        drop = ("--log-format", "json", "--log-level", "warning", "--public-booking-burst", "0")
        args = [a for a in args if a not in drop]
    elif demo:
        args.append("--demo")
    log_path = data_dir / "service.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            preexec_fn=_pinning(core),
        )  # fmt: skip
    service = RunningService(process.pid, f"http://127.0.0.1:{port}", data_dir, log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise ServiceUnavailable(
                    f"service exited with {process.returncode}: {service.log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(service.base_url + "/healthz", timeout=2) as reply,
            ):
                if reply.status == 200:
                    break
            if time.monotonic() > deadline:
                raise ServiceUnavailable(f"service not healthy in time: {service.log_tail()}")
            time.sleep(0.1)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
