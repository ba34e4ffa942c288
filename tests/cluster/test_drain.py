"""A node being stopped (``SIGTERM``) lets its calls go on for ``--drain-timeout``, then
closes them: their participants rejoin and the room moves to a live node."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish, rejoin
from tests.cluster.nodes import NodeSet
from tests.cluster.test_node_death import place_on, room_holder

DRAIN_S = 2.0

pytestmark = pytest.mark.postgres


async def test_a_drained_nodes_calls_move_to_live_nodes_after_the_drain_timeout(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    c = await asyncio.to_thread(
        node_set.start, "node-c", extra_args=("--drain-timeout", str(DRAIN_S))
    )
    room = "booking-drained"
    citizen_token = node_set.mint(room=room, role="guest", subject="cit", name="Ana")
    agent_token = node_set.mint(room=room, role="host", subject="agent", name="Bo")
    await place_on(node_set.redis_url, room, c.node_id)
    clients = []
    try:
        citizen = await join_and_publish(a.ws_url, citizen_token, RED)
        agent = await join_and_publish(b.ws_url, agent_token, BLUE)
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))

        stopped_at = time.monotonic()
        c.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(DRAIN_S / 2)
        assert not citizen.closed.is_set(), "the call goes on while its node drains"
        await asyncio.wait_for(
            asyncio.gather(citizen.closed.wait(), agent.closed.wait()), DRAIN_S + 10
        )
        assert time.monotonic() - stopped_at >= DRAIN_S * 0.9

        deadline = time.monotonic() + 15
        citizen, agent = await asyncio.gather(
            rejoin(a.ws_url, citizen_token, RED, deadline=deadline),
            rejoin(b.ws_url, agent_token, BLUE, deadline=deadline),
        )
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))
        assert await room_holder(node_set.redis_url, room) in ("node-a", "node-b")
        await asyncio.to_thread(c.process.wait, 15)
    finally:
        await close_all(*clients)
