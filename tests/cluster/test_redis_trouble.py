"""Redis is where nodes meet, never on the media path: unreachable at start, a node
says so and exits; lost during calls, the calls keep their media and signalling
comes back with it."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish
from tests.cluster.conftest import redis_or_skip
from tests.cluster.nodes import NodeSet, RedisServer, free_port
from tests.cluster.test_node_death import place_on


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis this test may stop and start again."""
    (tmp_path / "redis").mkdir()
    server = redis_or_skip(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()


def test_redis_unreachable_at_start_stops_the_node_with_a_clear_message(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    nodes = NodeSet(tmp_path / "data", url, f"sqlite:///{tmp_path}/booking.db")
    node = nodes.launch("node-a")
    try:
        code = node.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        nodes.stop_all()
        pytest.fail("a node without its Redis kept running")
    text = node.log_text()
    assert code != 0
    assert f"--redis-url: cannot reach Redis at {url}" in text
    assert "Traceback" not in text


@pytest.mark.postgres
async def test_redis_lost_during_calls_keeps_media_and_signalling_recovers(
    tmp_path: Path, own_redis: RedisServer, postgres_url: str
) -> None:
    nodes = NodeSet(tmp_path / "data", own_redis.url, postgres_url)
    clients = []
    try:
        a = await asyncio.to_thread(nodes.start, "node-a")
        b = await asyncio.to_thread(nodes.start, "node-b")
        room = "booking-redis-lost"
        await place_on(own_redis.url, room, b.node_id)
        citizen = await join_and_publish(  # relayed: its socket is on a, the room on b
            a.ws_url, nodes.mint(room=room, role="guest", subject="cit", name="Ana"), RED
        )
        agent = await join_and_publish(
            b.ws_url, nodes.mint(room=room, role="host", subject="agent", name="Bo"), BLUE
        )
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))

        own_redis.stop()
        await asyncio.sleep(4.0)  # longer than a node's TTL and the watchers' period
        await asyncio.gather(  # media never needed Redis
            decodes(citizen, "agent", BLUE, frames=30, timeout_s=10),
            decodes(agent, "cit", RED, frames=30, timeout_s=10),
        )
        assert not citizen.closed.is_set() and not agent.closed.is_set()

        own_redis.start()
        back = time.monotonic()
        while True:  # the relayed socket carries frames again once both nodes resubscribed
            try:
                await citizen.send({"type": "chat", "text": "back?"})
                frame = await agent.next_frame("chat", timeout_s=1.0)
                break
            except TimeoutError:
                assert time.monotonic() - back < 15, "signalling did not recover"
        assert frame["text"] == "back?"
        print(f"\nrelay carries frames again {time.monotonic() - back:.1f} s after Redis is back")

        newcomer = await join_and_publish(  # and placement works again
            a.ws_url, nodes.mint(room="after", role="host", subject="late", name="Cy"), RED
        )
        clients.append(newcomer)
        assert not citizen.closed.is_set() and not agent.closed.is_set()
    finally:
        await close_all(*clients)
        nodes.stop_all()
