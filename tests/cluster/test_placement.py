"""Rooms are placed on the live node with the most headroom, evenly; a node being
drained (``SIGTERM``) takes none and ends once its calls have ended."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter

import pytest
import redis.asyncio as aioredis

from signaling.client import SignalingClient
from tests.cluster.calls import close_all
from tests.cluster.nodes import Node, NodeSet, text

pytestmark = pytest.mark.postgres


async def join_rooms(
    node_set: NodeSet, nodes: list[Node], rooms: list[str]
) -> list[SignalingClient]:
    """One host per room, their sockets spread over ``nodes`` in turn."""
    clients = []
    for i, room in enumerate(rooms):
        client = SignalingClient(nodes[i % len(nodes)].ws_url)
        clients.append(client)
        await client.connect()
        token = node_set.mint(room=room, role="host", subject=f"host-{room}", name="Agent")
        assert (await client.join(token))["type"] == "joined"
    return clients


async def holders(redis: aioredis.Redis, rooms: list[str]) -> Counter[str]:
    values = await redis.mget([f"vg:room:{room}" for room in rooms])
    return Counter(str(text(value)) for value in values if value is not None)


async def wait_draining(redis: aioredis.Redis, node_id: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        raw = await redis.get(f"vg:node:{node_id}")
        if raw is not None and json.loads(raw)["draining"]:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{node_id} never published that it drains")


async def test_30_rooms_spread_within_20_percent_of_even_and_a_draining_node_gets_none(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    c = await asyncio.to_thread(node_set.start, "node-c", extra_args=("--drain-timeout", "60"))
    redis = aioredis.Redis.from_url(node_set.redis_url)
    clients: list[SignalingClient] = []
    try:
        first = [f"room-{i}" for i in range(30)]
        clients += await join_rooms(node_set, [a, b, c], first)
        spread = await holders(redis, first)
        loads = {n: json.loads(str(text(await redis.get(f"vg:node:{n}"))))["load"] for n in spread}
        print(f"\n30 rooms over 3 nodes: {dict(sorted(spread.items()))}; loads {loads}")
        assert set(spread) == {"node-a", "node-b", "node-c"}
        assert all(8 <= count <= 12 for count in spread.values()), spread

        c.process.send_signal(signal.SIGTERM)
        await wait_draining(redis, "node-c")
        later = [f"later-{i}" for i in range(12)]
        clients += await join_rooms(node_set, [a, b], later)
        assert "node-c" not in await holders(redis, later)
        assert c.process.poll() is None, "a draining node waits for its calls to end"

        await close_all(*clients)
        clients = []
        await asyncio.to_thread(c.process.wait, 15)  # its calls ended: it ends
    finally:
        await close_all(*clients)
        await redis.aclose()
