"""``serve --nodes N``: a supervisor starting N full node processes on one port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.nodes.conftest import log_events
from tests.support.server import free_port, run_service
from visioguichet.nodes import split_udp_ports

pytestmark = pytest.mark.timeout(120)


def serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visioguichet", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_two_nodes_on_sqlite_are_refused_with_a_sentence_naming_the_flag(tmp_path: Path) -> None:
    result = serve(
        "--nodes", "2", "--redis-url", "redis://127.0.0.1:1", "--data-dir", str(tmp_path)
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--nodes 2 needs a PostgreSQL --database-url" in result.stderr
    assert "SQLite" in result.stderr


def test_two_nodes_without_redis_are_refused_with_a_sentence_naming_the_flag(
    tmp_path: Path,
) -> None:
    result = serve(
        "--nodes",
        "2",
        "--database-url",
        "postgresql://u@127.0.0.1:1/x",
        "--data-dir",
        str(tmp_path),
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--nodes 2 needs --redis-url" in result.stderr


async def test_two_nodes_with_redis_unreachable_stop_at_once_naming_the_flag(
    tmp_path: Path, postgres_url: str
) -> None:
    closed = free_port()  # nothing listens there
    result = serve(
        "--nodes", "2", "--database-url", postgres_url,
        "--redis-url", f"redis://127.0.0.1:{closed}/0", "--data-dir", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"--redis-url: cannot reach Redis at 127.0.0.1:{closed}:" in result.stderr


def test_the_udp_range_is_split_into_equal_disjoint_slices() -> None:
    assert split_udp_ports((40000, 40099), 2) == [(40000, 40049), (40050, 40099)]
    assert split_udp_ports((40000, 40010), 3) == [(40000, 40002), (40003, 40005), (40006, 40008)]
    assert split_udp_ports(None, 2) == [None, None]


def _two_free_ports() -> int:
    """The first of two consecutive free ports."""
    for _ in range(50):
        first = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", first + 1))
            except OSError:
                continue
        return first
    raise RuntimeError("no two consecutive free ports")


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 1).close()
    except OSError:
        return False
    return True


def _node_label(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        labels = set(re.findall(r'node="([^"]+)"', response.read().decode()))
    assert len(labels) == 1, labels
    return labels.pop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child the supervisor has not reaped yet is a zombie: dead for our purpose.
    status = Path(f"/proc/{pid}/status").read_text() if Path(f"/proc/{pid}").exists() else ""
    return "zombie" not in status


def _wait_for(condition: object, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within_s} s")
        time.sleep(0.1)


@pytest.mark.slow
def test_a_killed_node_is_started_again_and_sigterm_stops_every_node(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    metrics_port = _two_free_ports()
    args: tuple[str, ...] = ("--nodes", "2", "--database-url", postgres_url)
    args += ("--redis-url", redis_url, "--metrics-port", str(metrics_port), "--node-id", "vm")
    with run_service(tmp_path, extra_args=args) as service:
        _wait_for(lambda: len(log_events(service.log_path, "node_started")) == 2, 20)
        first = {e["node"]: e for e in log_events(service.log_path, "node_started")}
        assert len(first) == 2 and {e["cpu"] for e in first.values()} <= set(
            os.sched_getaffinity(0)
        )
        assert sorted(first) == ["vm-1", "vm-2"]
        # Each node answers on a port of its own too, its metrics labelled with its id.
        for port in (metrics_port, metrics_port + 1):
            _wait_for(lambda port=port: _accepts(port), 30)
        assert [_node_label(metrics_port), _node_label(metrics_port + 1)] == ["vm-1", "vm-2"]
        victim = sorted(first)[0]
        os.kill(first[victim]["pid"], signal.SIGKILL)

        def restarted() -> bool:
            started = [
                e for e in log_events(service.log_path, "node_started") if e["node"] == victim
            ]
            return len(started) == 2

        _wait_for(restarted, 15)
        again = [e for e in log_events(service.log_path, "node_started") if e["node"] == victim][-1]
        assert again["pid"] != first[victim]["pid"]
        assert log_events(service.log_path, "node_exited")[0]["code"] == -signal.SIGKILL
        with urllib.request.urlopen(service.base_url + "/healthz", timeout=5) as response:
            assert response.status == 200

        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=60) == 0
        pids = [again["pid"]] + [e["pid"] for n, e in first.items() if n != victim]
        assert not [pid for pid in pids if _alive(pid)]
        assert len(log_events(service.log_path, "node_stopped")) == 2
