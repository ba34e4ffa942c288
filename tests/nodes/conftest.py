"""Real parts for several nodes: the PostgreSQL that TEST_DATABASE_URL names (emptied
first; the tests skip without it), a private ``redis-server`` on a free loopback port,
and node processes started as operators start them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support.server import free_port

START_TIMEOUT_S = 10.0


@pytest.fixture
async def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or None
    if url is None:
        pytest.skip(
            "several nodes need PostgreSQL: set TEST_DATABASE_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    return url


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A throw-away ``redis-server`` (nothing saved) on a free 127.0.0.1 port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/install.sh test installs it)")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def log_events(log_path: Path, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of one event, in order."""
    found = []
    for line in log_path.read_text(errors="replace").splitlines():
        with contextlib.suppress(ValueError):
            entry = json.loads(line)
            if isinstance(entry, dict) and entry.get("event") == event:
                found.append(entry)
    return found
