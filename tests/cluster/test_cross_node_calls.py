"""Calls whose participants' WebSockets land on different nodes: the room lives on one
node, the other relays through Redis, media goes straight to the room's node."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import msgpack
import pytest
import redis.asyncio as aioredis

from signaling.client import SignalingClient
from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish
from tests.cluster.nodes import NodeSet, text
from tests.cluster.test_node_death import place_on

pytestmark = pytest.mark.postgres


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


async def test_pings_before_join_are_answered_and_the_join_still_reaches_the_rooms_node(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    room = "booking-ping-first"
    await place_on(node_set.redis_url, room, b.node_id)
    agent = SignalingClient(b.ws_url)
    citizen = SignalingClient(a.ws_url)
    try:
        await agent.connect()
        await agent.join(node_set.mint(room=room, role="host", subject="agent", name="Bo"))
        await citizen.connect()
        for _ in range(3):  # the pre-call check times the round trip first
            assert (await citizen.request({"type": "ping"}))["type"] == "pong"
        await citizen.join(node_set.mint(room=room, role="guest", subject="cit", name="Ana"))
        assert citizen.joined is not None
        assert [p["id"] for p in citizen.joined["participants"]] == ["agent"]
        assert (await agent.next_frame("participant-joined"))["participant"]["id"] == "cit"
    finally:
        await close_all(citizen, agent)


async def test_two_first_joins_of_a_room_racing_on_two_nodes_meet_in_one_room(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    clients: list[SignalingClient] = []
    try:
        for i in range(10):
            room = f"booking-race-{i}"
            host, guest = SignalingClient(a.ws_url), SignalingClient(b.ws_url)
            clients += [host, guest]
            await asyncio.gather(host.connect(), guest.connect())
            await asyncio.gather(
                host.join(node_set.mint(room=room, role="host", subject="h", name="H")),
                guest.join(node_set.mint(room=room, role="guest", subject="g", name="G")),
            )
            assert host.joined is not None and guest.joined is not None
            seen = [p["id"] for p in host.joined["participants"] + guest.joined["participants"]]
            # The later join, under the room's lock, lists the earlier: two rooms list none.
            assert seen in (["g"], ["h"]), f"{room}: one room, not two ({seen})"
    finally:
        await close_all(*clients)


async def test_a_relayed_flood_is_refused_on_the_clients_node_before_it_reaches_redis(
    node_set: NodeSet,
) -> None:
    a = await asyncio.to_thread(node_set.start, "node-a")
    b = await asyncio.to_thread(node_set.start, "node-b")
    room = "booking-flood"
    await place_on(node_set.redis_url, room, b.node_id)
    redis = aioredis.Redis.from_url(node_set.redis_url)
    watch = redis.pubsub()
    await watch.subscribe("vg:relay:node-b")
    flooder = SignalingClient(a.ws_url, use_msgpack=True)  # binary frames cross too
    try:
        await flooder.connect()
        await flooder.join(node_set.mint(room=room, role="host", subject="f", name="F"))
        for i in range(300):
            await flooder.send({"type": "chat", "text": f"flood {i}"})
        await flooder.send_raw(msgpack.packb({"type": "chat", "text": "x" * 70_000}))
        codes: Counter[str] = Counter()
        with contextlib.suppress(TimeoutError):
            while sum(codes.values()) < 300:
                codes[(await flooder.next_frame("error", timeout_s=3))["code"]] += 1
        assert codes["rate-limited"] >= 200 and codes["too-large"] == 1, codes

        relayed = 0
        while (message := await watch.get_message(timeout=0.5)) is not None:
            if message["type"] == "message" and msgpack.unpackb(message["data"])[0] == "in":
                relayed += 1
        assert relayed <= 80, f"{relayed} frames of a flood crossed Redis"
        assert not flooder.closed.is_set()
    finally:
        await close_all(flooder)
        await watch.aclose()
        await redis.aclose()
