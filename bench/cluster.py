"""Several nodes measured: the relay's cost per signalling frame, and the time from a
room's node killed (``kill -9``) to media back.

``python -m bench.cluster --database-url postgresql://...`` (or TEST_DATABASE_URL) starts
a private ``redis-server`` and node processes on 127.0.0.1 with the tests' helpers
(``tests/cluster/nodes.py``: the same parts the tests prove), then:

- relay latency: two participants of one room on node B, one connected to B itself,
  one to node A (its frames relayed through Redis); each sends ``ping`` frames one at a
  time (15/s, under the rate limit) and times the ``pong``: the difference between the
  two is what the relay adds (two ``PUBLISH`` and two pub/sub deliveries).
- node death: three nodes, the room placed on B, a citizen on A and an agent on C
  exchanging media (aiortc); B is killed, both rejoin through their nodes as the call
  page does, and the time until both decode the other's frames again is taken;
  ``--kills`` runs (median reported).

Results go to ``bench/results/cluster.json`` and are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from signaling.client import SignalingClient
from tests.cluster.calls import BLUE, RED, close_all, decodes, join_and_publish, rejoin
from tests.cluster.nodes import NodeSet, RedisServer
from tests.cluster.test_node_death import place_on

PING_INTERVAL_S = 1 / 15


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def ping_times(client: SignalingClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        await client.request({"type": "ping"})
        times.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(PING_INTERVAL_S)
    return times


async def relay_latency(workdir: Path, redis: RedisServer, database_url: str, pings: int) -> Any:
    redis.flush()
    nodes = NodeSet(workdir / "relay", redis.url, database_url)
    clients: list[SignalingClient] = []
    try:
        a = await asyncio.to_thread(nodes.start, "node-a")
        b = await asyncio.to_thread(nodes.start, "node-b")
        room = "bench-relay"
        await place_on(redis.url, room, b.node_id)
        local = SignalingClient(b.ws_url)
        relayed = SignalingClient(a.ws_url)
        clients += [local, relayed]
        for client, subject in ((local, "local"), (relayed, "relayed")):
            await client.connect()
            await client.join(nodes.mint(room=room, role="host", subject=subject, name=subject))
        assert redis.process is not None
        idle_from, idle_at = cpu_seconds(redis.process.pid), time.monotonic()
        await asyncio.sleep(5.0)
        idle_s = cpu_seconds(redis.process.pid) - idle_from
        idle_per_s = idle_s / (time.monotonic() - idle_at)
        busy_from, busy_at = cpu_seconds(redis.process.pid), time.monotonic()
        local_ms, relayed_ms = await asyncio.gather(
            ping_times(local, pings), ping_times(relayed, pings)
        )
        busy_s = cpu_seconds(redis.process.pid) - busy_from
        relay_cpu_s = busy_s - idle_per_s * (time.monotonic() - busy_at)
    finally:
        await close_all(*clients)
        nodes.stop_all()

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(statistics.median(values), 3),
            "p95_ms": round(percentile(values, 0.95), 3),
        }

    extra = [r - loc for r, loc in zip(sorted(relayed_ms), sorted(local_ms), strict=True)]
    return {
        "pings": pings,
        "redis_cpu": {
            "two_idle_nodes_ms_per_s": round(idle_per_s * 1000, 3),
            "per_relayed_frame_us": round(max(0.0, relay_cpu_s) / (2 * pings) * 1e6, 1),
        },
        "local": summary(local_ms),
        "relayed": summary(relayed_ms),
        "extra": {
            "p50_ms": round(statistics.median(relayed_ms) - statistics.median(local_ms), 3),
            "p95_ms": round(percentile(relayed_ms, 0.95) - percentile(local_ms, 0.95), 3),
            "quantile_differences_p50_ms": round(statistics.median(extra), 3),
        },
    }


async def one_kill(workdir: Path, redis: RedisServer, database_url: str, run: int) -> float:
    redis.flush()
    nodes = NodeSet(workdir / f"kill-{run}", redis.url, database_url)
    clients: list[SignalingClient | None] = []
    try:
        a = await asyncio.to_thread(nodes.start, "node-a")
        b = await asyncio.to_thread(nodes.start, "node-b")
        c = await asyncio.to_thread(nodes.start, "node-c")
        room = f"bench-kill-{run}"
        citizen_token = nodes.mint(room=room, role="guest", subject="cit", name="Ana")
        agent_token = nodes.mint(room=room, role="host", subject="agent", name="Bo")
        await place_on(redis.url, room, b.node_id)
        citizen = await join_and_publish(a.ws_url, citizen_token, RED)
        agent = await join_and_publish(c.ws_url, agent_token, BLUE)
        clients += [citizen, agent]
        await asyncio.gather(decodes(citizen, "agent", BLUE), decodes(agent, "cit", RED))
        await asyncio.sleep(1.0)
        killed_at = time.monotonic()
        b.kill()
        await asyncio.wait_for(asyncio.gather(citizen.closed.wait(), agent.closed.wait()), 15)
        deadline = killed_at + 30
        citizen, agent = await asyncio.gather(
            rejoin(a.ws_url, citizen_token, RED, deadline=deadline),
            rejoin(c.ws_url, agent_token, BLUE, deadline=deadline),
        )
        clients += [citizen, agent]
        await asyncio.gather(
            decodes(citizen, "agent", BLUE, frames=1), decodes(agent, "cit", RED, frames=1)
        )
        return time.monotonic() - killed_at
    finally:
        await close_all(*clients)
        nodes.stop_all()


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vg-bench-cluster-") as tmp:
        workdir = Path(tmp)
        redis = RedisServer(workdir)
        redis.start()
        try:
            result: dict[str, Any] = {
                "relay_latency": await relay_latency(workdir, redis, args.database_url, args.pings)
            }
            kills = [
                round(await one_kill(workdir, redis, args.database_url, run), 3)
                for run in range(args.kills)
            ]
            result["kill_to_media_s"] = {"runs": kills, "median": statistics.median(kills)}
        finally:
            redis.stop()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("TEST_DATABASE_URL"))
    parser.add_argument("--pings", type=int, default=300)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/cluster.json"))
    args = parser.parse_args()
    if not args.database_url:
        parser.error("several nodes share PostgreSQL: --database-url or TEST_DATABASE_URL")
    result = asyncio.run(main_async(args))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
