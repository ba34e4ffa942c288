"""Runs the real service (``python -m visioguichet serve``) as a process for end-to-end tests.

A separate process is what users run, keeps the server's event loop (uvloop) apart from
the test's, and lets a test read the outbox and mint join tokens from the data folder.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visioguichet.join_token import JoinTokenSigner, Role, load_or_create_signer

START_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningService:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def ws_url(self) -> str:
        return self.base_url.replace("http://", "ws://", 1) + "/ws"

    @property
    def signer(self) -> JoinTokenSigner:
        return load_or_create_signer(self.data_dir / "join-token.key")

    def mint(
        self,
        *,
        room: str,
        role: Role,
        subject: str,
        name: str,
        ttl_s: float = 3600.0,
        lobby: bool = False,
    ) -> str:
        return self.signer.mint(
            room=room,
            role=role,
            subject=subject,
            name=name,
            expires_at=time.time() + ttl_s,
            lobby=lobby,
        )

    def outbox(self) -> list[Path]:
        return sorted((self.data_dir / "outbox").glob("*.eml"))

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            return json.load(response)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def _wait_healthy(service: RunningService) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(
                f"service exited with {service.process.returncode}:\n{service.log_text()}"
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(service.base_url + "/healthz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"service not healthy after {START_TIMEOUT_S} s:\n{service.log_text()}")


@contextlib.contextmanager
def run_service(
    data_dir: Path,
    *,
    demo: bool = True,
    smtp_url: str | None = None,
    extra_args: Sequence[str] = (),
    allow_remote_network: str = "127.0.0.0/8",
) -> Iterator[RunningService]:
    """Start the service on 127.0.0.1 with loopback-only ICE; stop it on exit. Media is
    taken from ``allow_remote_network`` only: another network makes every browser's
    candidate unusable (media that cannot get through, on purpose)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "visioguichet",
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--ice-address",
        "127.0.0.1",
        "--allow-remote-network",
        allow_remote_network,
        "--log-format",
        "json",
        *extra_args,
    ]
    if demo:
        args.append("--demo")
    if smtp_url:
        args += ["--smtp-url", smtp_url]
    log_path = data_dir / "service.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
    service = RunningService(f"http://127.0.0.1:{port}", data_dir, process, log_path)
    try:
        _wait_healthy(service)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
