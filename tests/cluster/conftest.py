"""Fixtures for several nodes: Redis (one private server per test session, emptied for
each test), the PostgreSQL of TEST_DATABASE_URL (emptied; skipped without it), and
the node processes of a test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from tests.cluster.nodes import NodeSet, RedisServer


def redis_or_skip(workdir: Path) -> RedisServer:
    try:
        server = RedisServer(workdir)
        server.start()
    except (FileNotFoundError, RuntimeError) as exc:
        pytest.skip(f"needs redis-server (scripts/install.sh test installs it): {exc}")
    return server


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = redis_or_skip(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url() -> str:
    """Sync, so that browser tests (Playwright's sync API) may use it too."""
    url = os.environ.get("TEST_DATABASE_URL") or None
    if url is None:
        pytest.skip(
            "several nodes share PostgreSQL: set TEST_DATABASE_URL "
            "(e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )

    async def empty() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
        finally:
            await conn.close()

    try:  # in a thread of its own: Playwright's sync API runs a loop in this one
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, empty()).result()
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    return url


@pytest.fixture
def node_set(tmp_path: Path, redis_server: RedisServer, postgres_url: str) -> Iterator[NodeSet]:
    redis_server.flush()
    nodes = NodeSet(tmp_path / "data", redis_server.url, postgres_url)
    try:
        yield nodes
    finally:
        nodes.stop_all()
