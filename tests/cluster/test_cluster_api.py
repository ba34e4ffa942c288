"""``signaling.Cluster`` in this process against a real Redis (no PostgreSQL, no node
processes): placement by headroom, drain, and a node seen dead the moment its relay
subscription is gone."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Collection

import pytest

from signaling.cluster import Cluster, LocalCounts
from signaling.relay import RelayedSocket
from tests.cluster.nodes import RedisServer


class NodeRooms:
    """What a signalling server reports to its cluster: here, the rooms placed on it."""

    def __init__(self) -> None:
        self.rooms: set[str] = set()

    def local_counts(self) -> LocalCounts:
        return LocalCounts(rooms=len(self.rooms), participants=2 * len(self.rooms))

    def local_rooms(self) -> Collection[str]:
        return self.rooms

    def room_moved(self, room: str) -> None:
        self.rooms.discard(room)

    def run_relayed(self, socket: RelayedSocket) -> None:
        raise AssertionError("no relayed session in these tests")


@pytest.fixture
async def clusters(redis_server: RedisServer) -> AsyncIterator[dict[str, Cluster]]:
    redis_server.flush()
    nodes = {name: Cluster(redis_server.url, node_id=name) for name in ("n1", "n2", "n3")}
    for cluster in nodes.values():
        cluster.attach(NodeRooms())
        await cluster.start()
    try:
        yield nodes
    finally:
        for cluster in nodes.values():
            await cluster.close()


async def test_cluster_place_spreads_rooms_and_keeps_a_room_where_it_lives(
    clusters: dict[str, Cluster],
) -> None:
    placed = {room: await clusters["n1"].place(room) for room in (f"r{i}" for i in range(30))}
    spread = Counter(placed.values())
    assert set(spread) == {"n1", "n2", "n3"} and all(8 <= n <= 12 for n in spread.values())
    for room, node in placed.items():  # asked again, through any node: the same answer
        assert await clusters["n3"].place(room) == node


async def test_cluster_place_gives_a_draining_node_nothing_new(
    clusters: dict[str, Cluster],
) -> None:
    before = await clusters["n1"].place("old")
    clusters[before].drain()
    await asyncio.sleep(0.3)  # published at once, not at the next heartbeat
    assert before not in {await clusters["n2"].place(f"new{i}") for i in range(12)}
    assert await clusters["n2"].place("old") == before  # its calls go on there


async def test_cluster_place_moves_a_room_off_a_node_whose_relay_subscription_is_gone(
    clusters: dict[str, Cluster],
) -> None:
    holder = await clusters["n1"].place("room")
    await clusters[holder].relay.stop_listening()  # as when its process is killed
    survivor = next(name for name in clusters if name != holder)
    alive = await clusters[survivor].alive_nodes()
    assert alive is not None and holder not in alive
    moved = await clusters[survivor].place("room")
    assert moved != holder
    assert await clusters[holder].room_node("room") == moved
