"""SFU CPU per join: what admitting one participant costs the server's event loop.

Sequential one-to-one calls on 127.0.0.1: each participant publishes audio + video
(real aiortc peer, ICE, DTLS-SRTP) and answers the SFU's subscribe offer; the next one
starts only once both of its peer connections are connected. The bots send no media,
so what the SFU process spends is the join itself: two peer connections, SDP offers
and answers, ICE gathering and checks, two DTLS handshakes. The SFU runs in its own
process (uvloop, as ``visioguichet serve``), driven over a pipe; its CPU clock is read
before the first join and after the last. Prints ONE JSON object::

    {"joins": 20, "cpu_ms_per_join": ..., "sdp_cpu_ms_per_join": ..., "wall_ms_p50": ...,
     "repeats": 3, "cpu_ms_per_join_runs": [...]}

(medians over ``--repeats`` runs, each with a fresh SFU process).

``sdp_cpu_ms_per_join`` is the part spent inside the publish / subscribe calls (peer
connection set-up, SDP, gathering); the rest is ICE checks and DTLS in the background.
``--profile FILE`` writes the SFU process's cProfile statistics (``pstats``) there.

    python -m bench.join_cost [--calls 10] [--repeats 3] [--profile /tmp/join.pstats]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import multiprocessing
import statistics
import time
from multiprocessing.connection import Connection
from typing import Any

import uvloop
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.ice_pinning import restrict_host_addresses
from bench.sfu_requests import JOIN_OPS, answer_join_request

LOOPBACK = ("127.0.0.1",)
CONNECT_TIMEOUT_S = 10.0
SETTLE_S = 0.3


def serve_sfu(conn: Connection, profile_path: str | None) -> None:
    """Child process: one SFU answering join requests from the pipe until ``close``."""
    profiler = cProfile.Profile(time.process_time) if profile_path else None
    uvloop.run(_serve(conn, profiler))
    if profiler is not None and profile_path:
        profiler.dump_stats(profile_path)


async def _serve(conn: Connection, profiler: cProfile.Profile | None) -> None:
    from sfu import Sfu, SfuConfig

    sfu = Sfu(SfuConfig(ice_addresses=LOOPBACK, allowed_remote_networks=("127.0.0.0/8",)))
    readable = asyncio.Event()
    asyncio.get_running_loop().add_reader(conn.fileno(), readable.set)  # no thread hop
    while True:
        if not conn.poll():
            readable.clear()
            await readable.wait()
            continue
        op, *args = conn.recv()
        reply: Any = None
        if op in JOIN_OPS:
            reply = await answer_join_request(sfu, op, args)
        elif op == "cpu":
            reply = time.process_time()
        elif op == "profile":
            if profiler is not None:
                profiler.enable() if args[0] else profiler.disable()
        elif op == "close":
            asyncio.get_running_loop().remove_reader(conn.fileno())
            await sfu.close()
            conn.send(None)
            return
        conn.send(reply)


class SfuProcess:
    def __init__(self, profile_path: str | None) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_sfu, args=(child, profile_path), daemon=True)
        self._process.start()
        self.op_cpu_s = 0.0  # SFU CPU spent inside publish / offer / answer

    async def call(self, *request: Any) -> Any:
        self._conn.send(request)
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)

    async def timed(self, *request: Any) -> Any:
        before = await self.call("cpu")
        reply = await self.call(*request)
        self.op_cpu_s += await self.call("cpu") - before
        return reply

    async def close(self) -> None:
        await self.call("close")
        self._process.join(10)


def bot_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def connected(pc: RTCPeerConnection) -> None:
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while pc.connectionState != "connected":
        if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
            raise RuntimeError(f"peer connection {pc.connectionState}")
        await asyncio.sleep(0.005)


async def publish(server: SfuProcess, room_id: str, participant_id: str) -> RTCPeerConnection:
    pc = bot_pc()
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    restrict_host_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    answer = await server.timed("publish", room_id, participant_id, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


async def subscribe(server: SfuProcess, room_id: str, participant_id: str) -> RTCPeerConnection:
    offer = await server.timed("offer", room_id, participant_id)
    if offer is None:
        raise RuntimeError(f"no subscribe offer for {participant_id}")
    pc = bot_pc()
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    restrict_host_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createAnswer())
    assert pc.localDescription is not None
    await server.timed("answer", room_id, participant_id, pc.localDescription.sdp)
    return pc


async def measure(calls: int, profile_path: str | None) -> dict[str, Any]:
    server = SfuProcess(profile_path)
    pcs: list[RTCPeerConnection] = []
    walls: list[float] = []
    try:
        # one warm-up call: imports, codec tables and first-use caches are not a join's cost
        for participant in ("agent", "citizen"):
            pcs.append(await publish(server, "warm-up", participant))
        for participant in ("agent", "citizen"):
            pcs.append(await subscribe(server, "warm-up", participant))
        await asyncio.gather(*(connected(pc) for pc in pcs))
        await asyncio.sleep(SETTLE_S)
        server.op_cpu_s = 0.0
        await server.call("profile", True)
        before = await server.call("cpu")
        for call in range(calls):
            room_id = f"call-{call}"
            # agent publishes alone; the citizen publishes and subscribes; then the agent
            # subscribes to the citizen: each participant ends with two connected PCs
            started = time.monotonic()
            agent = await publish(server, room_id, "agent")
            await connected(agent)
            walls.append(time.monotonic() - started)
            started = time.monotonic()
            citizen = await publish(server, room_id, "citizen")
            citizen_sub = await subscribe(server, room_id, "citizen")
            await asyncio.gather(connected(citizen), connected(citizen_sub))
            walls.append(time.monotonic() - started)
            started = time.monotonic()
            agent_sub = await subscribe(server, room_id, "agent")
            await connected(agent_sub)
            walls[-2] += time.monotonic() - started
            pcs += [agent, citizen, citizen_sub, agent_sub]
        await asyncio.sleep(SETTLE_S)  # the last DTLS flight and the SFU's side of it
        cpu_s = await server.call("cpu") - before
        await server.call("profile", False)
    finally:
        for pc in pcs:
            await pc.close()
        await server.close()
    joins = 2 * calls
    return {
        "joins": joins,
        "peer_connections_per_join": 2,
        "cpu_ms_per_join": round(cpu_s / joins * 1e3, 2),
        "sdp_cpu_ms_per_join": round(server.op_cpu_s / joins * 1e3, 2),
        "wall_ms_p50": round(statistics.median(walls) * 1e3, 1),
        "wall_ms_max": round(max(walls) * 1e3, 1),
    }


async def main(calls: int, repeats: int, profile_path: str | None) -> dict[str, Any]:
    """Median of ``repeats`` runs, each with a fresh SFU process, and every run's figure."""
    runs = [await measure(calls, profile_path) for _ in range(repeats)]
    result = dict(runs[0])
    for key in ("cpu_ms_per_join", "sdp_cpu_ms_per_join", "wall_ms_p50", "wall_ms_max"):
        result[key] = round(statistics.median(run[key] for run in runs), 2)
    result["repeats"] = repeats
    result["cpu_ms_per_join_runs"] = [run["cpu_ms_per_join"] for run in runs]
    return result


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10, help="one-to-one calls, one after another")
    parser.add_argument("--repeats", type=int, default=3, help="runs; figures are medians")
    parser.add_argument("--profile", default=None, help="write the SFU's cProfile stats here")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main(args.calls, args.repeats, args.profile))))


if __name__ == "__main__":
    run()
