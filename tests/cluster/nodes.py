"""Real parts for the signalling of several nodes: a private ``redis-server`` that a
test may stop and start again on the same port, and node processes
(``python -m visioguichet serve --redis-url ...``) each on its own HTTP port and UDP
range, sharing one data folder (the join key) and one PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from visioguichet.join_token import load_or_create_signer

START_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` on 127.0.0.1, nothing saved; ``stop()``/``start()`` keep the port."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server is not installed")
        self.binary = binary
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            args, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10.0
        address = ("127.0.0.1", self.port)
        while True:
            with contextlib.suppress(OSError), socket.create_connection(address, 1):
                return
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"redis-server did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)
        self.process = None

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            client.flushall()
        finally:
            client.close()


@dataclass
class Node:
    node_id: str
    port: int
    udp_ports: tuple[int, int]
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """``kill -9``: no clean-up of any kind."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class NodeSet:
    """Node processes of one test, all stopped at its end."""

    data_dir: Path
    redis_url: str
    database_url: str
    nodes: list[Node] = field(default_factory=list)
    _next_udp: int = 41000

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Created once, before any node: nodes racing to create the key would differ.
        self.signer = load_or_create_signer(self.data_dir / "join-token.key")

    def mint(
        self, *, room: str, role: Literal["host", "guest", "observer"], subject: str, name: str
    ) -> str:
        return self.signer.mint(
            room=room, role=role, subject=subject, name=name, expires_at=time.time() + 3600
        )

    def start(self, node_id: str, *, extra_args: tuple[str, ...] = ()) -> Node:
        node = self.launch(node_id, extra_args=extra_args)
        wait_healthy(node)
        return node

    def launch(self, node_id: str, *, extra_args: tuple[str, ...] = ()) -> Node:
        port = free_port()
        udp = (self._next_udp, self._next_udp + 199)
        self._next_udp += 200
        log_path = self.data_dir / f"{node_id}.log"
        args = [
            sys.executable, "-m", "visioguichet", "serve",
            "--data-dir", str(self.data_dir),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--udp-ports", f"{udp[0]}-{udp[1]}",
            "--ice-address", "127.0.0.1",
            "--allow-remote-network", "127.0.0.0/8",
            "--redis-url", self.redis_url,
            "--database-url", self.database_url,
            "--node-id", node_id,
            "--drain-timeout", "0",
            "--log-format", "json",
            *extra_args,
        ]  # fmt: skip
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT)
        node = Node(node_id, port, udp, process, log_path)
        self.nodes.append(node)
        return node

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()


def text(value: bytes | str | None) -> str | None:
    """A Redis reply as text."""
    return value.decode() if isinstance(value, bytes) else value


def wait_healthy(node: Node) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise RuntimeError(f"node {node.node_id} exited:\n{node.log_text()[-3000:]}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(node.base_url + "/healthz", timeout=2) as response,
        ):
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"node {node.node_id} not healthy:\n{node.log_text()[-3000:]}")
