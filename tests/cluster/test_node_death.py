"""The room's node is killed (``kill -9``) during a call: the participants' nodes say
``node-lost``, the participants rejoin with the same tokens through the same nodes,
the room is placed again on a live node and media flows again within 10 s."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aioredis

from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish, rejoin
from tests.cluster.nodes import NodeSet, text

TARGET_S = 10.0

pytestmark = pytest.mark.postgres


async def place_on(redis_url: str, room: str, node_id: str) -> None:
    """Place the room as placement would have, on the node the test will kill."""
    redis = aioredis.Redis.from_url(redis_url)
    try:
        await redis.set(f"vg:room:{room}", node_id, px=10_000)
        await redis.sadd(f"vg:noderooms:{node_id}", room)
    finally:
        await redis.aclose()


async def room_holder(redis_url: str, room: str) -> str | None:
    redis = aioredis.Redis.from_url(redis_url)
    try:
        value = await redis.get(f"vg:room:{room}")
    finally:
        await redis.aclose()
    return text(value)


async def test_the_rooms_node_killed_mid_call_both_are_back_in_a_call_within_10_s(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    c = await asyncio.to_thread(node_set.start, "node-c")
    room = "booking-node-death"
    citizen_token = node_set.mint(room=room, role="guest", subject="cit", name="Ana")
    agent_token = node_set.mint(room=room, role="host", subject="agent", name="Bo")
    await place_on(node_set.redis_url, room, b.node_id)
    clients = []
    try:
        citizen = await join_and_publish(a.ws_url, citizen_token, RED)
        agent = await join_and_publish(c.ws_url, agent_token, BLUE)
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))

        killed_at = time.monotonic()
        b.kill()
        lost = await asyncio.gather(
            citizen.next_frame("error", timeout_s=TARGET_S),
            agent.next_frame("error", timeout_s=TARGET_S),
        )
        assert [frame["code"] for frame in lost] == ["node-lost", "node-lost"]
        assert not any(frame.get("fatal") for frame in lost)
        noticed_s = time.monotonic() - killed_at
        await asyncio.wait_for(asyncio.gather(citizen.closed.wait(), agent.closed.wait()), 5)

        deadline = killed_at + TARGET_S
        citizen, agent = await asyncio.gather(
            rejoin(a.ws_url, citizen_token, RED, deadline=deadline),
            rejoin(c.ws_url, agent_token, BLUE, deadline=deadline),
        )
        clients += [citizen, agent]
        left = max(1.0, deadline - time.monotonic())
        await asyncio.gather(
            decodes(citizen, "agent", BLUE, timeout_s=left),
            decodes(agent, "cit", RED, timeout_s=left),
        )
        back_s = time.monotonic() - killed_at
        print(
            f"\nkill -9 of the room's node: noticed in {noticed_s:.2f} s,"
            f" media back in {back_s:.2f} s"
        )
        assert back_s < TARGET_S
        assert await room_holder(node_set.redis_url, room) in ("node-a", "node-c")
    finally:
        await close_all(*clients)


async def test_participants_of_a_room_placed_elsewhere_meanwhile_rejoin_it_there(
    node_set: NodeSet,
) -> None:
    """A node taken for dead for a while (frozen, cut from Redis) finds its room placed
    on another node: its participants are told ``node-lost`` and rejoin there, so the
    call is not split between two nodes."""
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    room = "booking-moved"
    citizen_token = node_set.mint(room=room, role="guest", subject="cit", name="Ana")
    agent_token = node_set.mint(room=room, role="host", subject="agent", name="Bo")
    await place_on(node_set.redis_url, room, b.node_id)
    clients = []
    try:
        citizen = await join_and_publish(a.ws_url, citizen_token, RED)
        agent = await join_and_publish(b.ws_url, agent_token, BLUE)
        clients += [citizen, agent]
        await place_on(node_set.redis_url, room, a.node_id)  # as another node would have
        lost = await asyncio.gather(
            citizen.next_frame("error", timeout_s=5), agent.next_frame("error", timeout_s=5)
        )
        assert [frame["code"] for frame in lost] == ["node-lost", "node-lost"]
        deadline = time.monotonic() + TARGET_S
        citizen, agent = await asyncio.gather(
            rejoin(a.ws_url, citizen_token, RED, deadline=deadline),
            rejoin(b.ws_url, agent_token, BLUE, deadline=deadline),
        )
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))
        assert await room_holder(node_set.redis_url, room) == "node-a"
    finally:
        await close_all(*clients)
