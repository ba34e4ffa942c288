"""Calls whose participants' WebSockets land on different nodes: the room lives on one
node, the other relays through Redis, media goes straight to the room's node."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish
from tests.cluster.nodes import NodeSet, text


async def test_a_citizen_on_one_node_and_an_agent_on_another_meet_and_see_each_other(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    room = "booking-cross-node"
    citizen = agent = None
    try:
        citizen = await join_and_publish(
            a.ws_url, node_set.mint(room=room, role="guest", subject="cit", name="Ana"), RED
        )
        agent = await join_and_publish(
            b.ws_url, node_set.mint(room=room, role="host", subject="agent", name="Bo"), BLUE
        )
        assert agent.joined is not None
        assert [p["id"] for p in agent.joined["participants"]] == ["cit"]  # one room, not two
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))

        redis = aioredis.Redis.from_url(node_set.redis_url)
        try:
            holder = text(await redis.get(f"vg:room:{room}"))
        finally:
            await redis.aclose()
        assert holder in ("node-a", "node-b")

        # Chat crosses the relay both ways, in order.
        for i in range(5):
            await citizen.chat(f"citizen {i}")
        texts = [(await agent.next_frame("chat"))["text"] for _ in range(5)]
        assert texts == [f"citizen {i}" for i in range(5)]
        await agent.chat("agent 0")
        assert (await citizen.next_frame("chat"))["text"] == "agent 0"
    finally:
        await close_all(citizen, agent)


async def test_a_participant_leaving_through_the_relay_leaves_the_room_on_its_node(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    room = "booking-leave"
    citizen = agent = None
    try:
        citizen = await join_and_publish(
            a.ws_url, node_set.mint(room=room, role="guest", subject="cit", name="Ana"), RED
        )
        agent = await join_and_publish(
            b.ws_url, node_set.mint(room=room, role="host", subject="agent", name="Bo"), BLUE
        )
        await citizen.close()  # just the socket: its node must tell the room's node
        left = await agent.next_frame("participant-left", timeout_s=10)
        assert left["participant_id"] == "cit"
    finally:
        await close_all(citizen, agent)
