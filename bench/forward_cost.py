"""SFU CPU per forwarded packet, on uvloop and on asyncio, for audio and for video.

Real aiortc peers (ICE, DTLS, SRTP, RTCP) publish pre-encoded clips through the SFU
for a few seconds — replayed by the benchmark's RTP pump and counted, not decoded, on
receipt, so that the clients are not the bottleneck — as
``--calls`` one-to-one calls (the appointment case: two participants per room, each
publishing and receiving the other). The SFU runs in its own process (a thread would
share the GIL with the clients and pay for every hand-over), driven over a pipe; its
CPU time is that process's CPU clock, measured apart from the clients'. Prints ONE
JSON object: ``{"uvloop_audio_us": ..., "uvloop_video_us": ..., "asyncio_audio_us":
..., "asyncio_video_us": ..., "calls": n, "<loop>_<kind>_pps": ...}``.

Per-packet cost falls as load rises: an idle event loop pays a cold wake-up (epoll,
scheduler, cold caches) for every lone datagram. One call measures that worst case;
ten calls are closer to a loaded server.

CPU time on a shared machine drifts by ±20 % from run to run (neighbours, frequency,
caches). ``--repeats N`` measures each variant N times, interleaved, and reports the
median; ``--instructions`` also counts the SFU process's instructions per forwarded
packet, user and kernel apart (``perf stat``, when the machine has it): a count that a
busy neighbour does not change, to compare two builds. Extra keys then:
``"<loop>_<kind>_kinstr_user"``, ``"<loop>_<kind>_kinstr_kernel"`` (thousands).

``--calls 10,100`` measures each load in turn, in one run (ratios between loads hold
when the host drifts): the top-level keys are the first load's, ``"by_calls"`` has every
load's under its number of calls.

``--floor`` also runs a bare C UDP relay (``bench.relay_floor``) at the load the SFU
just carried: what the kernel and a wake-up alone cost per packet on this machine. Extra
keys: ``"floor_<kind>_us"`` and ``"<loop>_<kind>_over_floor"``.

    python -m bench.forward_cost [--seconds 4] [--calls 10[,100...]] [--repeats 1]
                                 [--instructions] [--floor]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import uvloop
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench import relay_floor
from bench.media_clip import audio_clip, video_clip
from bench.receive_stats import ReceiveStats
from bench.rtp_pump import BotPeerConnection, close_pump
from bench.sfu_requests import JOIN_OPS, answer_join_request
from bench.synthetic_tracks import PacketTrack

LOOPBACK = ("127.0.0.1",)


def serve_sfu(conn: Connection, use_uvloop: bool) -> None:
    """Child process: one SFU room answering requests from the pipe until ``close``."""
    loop = uvloop.new_event_loop() if use_uvloop else asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.run_until_complete(_serve(conn))
    loop.close()


async def _serve(conn: Connection) -> None:
    from sfu import Sfu, SfuConfig
    from visioguichet.cli import settle_heap

    sfu = Sfu(SfuConfig(ice_addresses=LOOPBACK, allowed_remote_networks=("127.0.0.0/8",)))
    settle_heap()  # as `visioguichet serve` does once it listens
    loop = asyncio.get_running_loop()
    while True:
        request = await loop.run_in_executor(None, conn.recv)
        op, args = request[0], list(request[1:])
        reply: Any = None
        if op in JOIN_OPS:
            reply = await answer_join_request(sfu, op, args)
        elif op == "sample":
            totals = sfu.stats()["totals"]
            reply = (time.process_time(), totals.get("packets_out", 0), totals.get("bytes_out", 0))
        elif op == "close":
            await sfu.close()
            conn.send(None)
            return
        conn.send(reply)


class SfuProcess:
    def __init__(self, use_uvloop: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self.pid: int | None = None
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve_sfu, args=(child, use_uvloop), daemon=True)
        self._process.start()
        self.pid = self._process.pid

    async def call(self, *request: Any) -> Any:
        self._conn.send(request)
        return await asyncio.get_running_loop().run_in_executor(None, self._conn.recv)

    async def close(self) -> None:
        await self.call("close")
        self._process.join(10)


def pin(pc: RTCPeerConnection) -> None:
    for transceiver in pc.getTransceivers():
        connection: Any = transceiver.receiver.transport.transport.iceGatherer._connection
        original = connection.get_component_candidates

        async def gather(
            component: int, addresses: list[str], _o: Any = original, **kw: Any
        ) -> Any:
            return await _o(component=component, addresses=list(LOOPBACK), **kw)

        connection.get_component_candidates = gather


async def publish(
    server: SfuProcess, room_id: str, participant_id: str, kind: str
) -> RTCPeerConnection:
    pc = BotPeerConnection(ReceiveStats(), configuration=RTCConfiguration(iceServers=[]))
    clip = audio_clip() if kind == "audio" else video_clip()
    pc.addTransceiver(PacketTrack(clip), direction="sendonly")
    pin(pc)
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    answer = await server.call("publish", room_id, participant_id, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


async def subscribe(
    server: SfuProcess, room_id: str, participant_id: str
) -> RTCPeerConnection | None:
    offer = await server.call("offer", room_id, participant_id)
    if offer is None:
        return None
    pc = BotPeerConnection(ReceiveStats(), configuration=RTCConfiguration(iceServers=[]))
    await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
    pin(pc)
    await pc.setLocalDescription(await pc.createAnswer())
    assert pc.localDescription is not None
    await server.call("answer", room_id, participant_id, pc.localDescription.sdp)
    return pc


async def wait_for_media(server: SfuProcess, timeout_s: float) -> None:
    """Until packets have been forwarded for a second without the count stalling."""
    deadline = time.monotonic() + timeout_s
    _, last, _ = await server.call("sample")
    flowing_since: float | None = None
    while time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        _, now, _ = await server.call("sample")
        if now > last:
            flowing_since = flowing_since or time.monotonic()
            if time.monotonic() - flowing_since >= 1.0:
                return
        else:
            flowing_since = None
        last = now
    raise RuntimeError("media did not start flowing through the SFU")


class InstructionCounter:
    """``perf stat`` attached to one process for a window: instructions, user and kernel."""

    EVENTS = ("instructions:u", "instructions:k")

    def __init__(self, pid: int) -> None:
        self._pid = pid
        handle, self._output = tempfile.mkstemp(suffix=".perf")
        os.close(handle)
        self._process: asyncio.subprocess.Process | None = None
        self._started = 0.0
        self.window_s = 0.0  # how long perf counted

    @staticmethod
    def available() -> bool:
        return shutil.which("perf") is not None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            "perf", "stat", "-x", ",", "-e", ",".join(self.EVENTS), "-p", str(self._pid),
            "-o", self._output,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        self._started = time.monotonic()
        await asyncio.sleep(0.2)  # attached before the window opens

    async def stop(self) -> dict[str, float]:
        """Counts by event; empty when perf could not count (not supported here)."""
        process, self._process = self._process, None
        if process is None:
            return {}
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        self.window_s = time.monotonic() - self._started
        try:
            await asyncio.wait_for(process.wait(), 10)
            return self._read()
        except TimeoutError:
            process.kill()
            return {}
        finally:
            os.unlink(self._output)

    def _read(self) -> dict[str, float]:
        counts: dict[str, float] = {}
        with open(self._output) as output:
            for line in output:
                fields = line.strip().split(",")
                if len(fields) > 2 and fields[2] in self.EVENTS:
                    with contextlib.suppress(ValueError):  # "<not supported>" and the like
                        counts[fields[2]] = float(fields[0])
        return counts


@dataclass
class Measurement:
    us_per_packet: float
    packets_per_s: float
    kinstr_user: float | None = None  # thousands of instructions per forwarded packet
    kinstr_kernel: float | None = None
    mean_bytes: float = 0.0  # per forwarded packet, before SRTP


async def measure(
    use_uvloop: bool, kind: str, seconds: float, calls: int, instructions: bool = False
) -> Measurement:
    """The SFU's CPU per forwarded packet (and instructions, when asked and countable)."""
    server = SfuProcess(use_uvloop)
    counter: InstructionCounter | None = None
    pcs: list[RTCPeerConnection] = []
    try:
        members = [(f"call-{c}", p) for c in range(calls) for p in ("agent", "citizen")]
        for room_id, participant in members:
            pcs.append(await publish(server, room_id, participant, kind))
        for room_id, participant in members:
            pc = await subscribe(server, room_id, participant)
            if pc is not None:
                pcs.append(pc)
        await wait_for_media(server, timeout_s=30.0)  # ICE, DTLS and the first keyframe
        if instructions and server.pid is not None and InstructionCounter.available():
            counter = InstructionCounter(server.pid)
            await counter.start()
        before_cpu, before_out, before_bytes = await server.call("sample")
        started = time.monotonic()
        await asyncio.sleep(seconds)
        after_cpu, after_out, after_bytes = await server.call("sample")
        elapsed = time.monotonic() - started
        counts = await counter.stop() if counter is not None else {}
        forwarded = after_out - before_out
        if forwarded <= 0:
            raise RuntimeError(f"no {kind} packet was forwarded")
        result = Measurement(
            (after_cpu - before_cpu) / forwarded * 1e6,
            forwarded / elapsed,
            mean_bytes=(after_bytes - before_bytes) / forwarded,
        )
        if counter is not None and len(counts) == len(InstructionCounter.EVENTS):
            # perf's window is a little wider than the CPU samples': the packets it saw
            # are those of its own window, at the same rate
            window_packets = forwarded / elapsed * counter.window_s
            result.kinstr_user = counts["instructions:u"] / window_packets / 1000
            result.kinstr_kernel = counts["instructions:k"] / window_packets / 1000
        return result
    finally:
        if counter is not None:
            await counter.stop()
        for pc in pcs:
            await pc.close()
        await close_pump()
        await server.close()


VARIANTS = [(loop, kind) for loop in ("uvloop", "asyncio") for kind in ("audio", "video")]


async def main(
    seconds: float,
    calls: int | list[int],
    repeats: int = 1,
    instructions: bool = False,
    floor: bool = False,
) -> dict[str, Any]:
    """Each variant at each load ``repeats`` times, interleaved (drift hits all alike);
    medians. The top-level figures are the first load's. With ``floor``, the bare relay
    (``bench.relay_floor``) right after each uvloop run, at its streams, rate and size."""
    loads = [calls] if isinstance(calls, int) else list(calls)
    runs: dict[tuple[int, str, str], list[Measurement]] = {
        (n, *v): [] for n in loads for v in VARIANTS
    }
    for _ in range(repeats):
        for n, loop_name, kind in list(runs):
            if loop_name == FLOOR:
                continue
            found = await measure(loop_name == "uvloop", kind, seconds, n, instructions)
            runs[(n, loop_name, kind)].append(found)
            if floor and loop_name == "uvloop":
                runs.setdefault((n, FLOOR, kind), []).append(
                    await asyncio.to_thread(floor_of, found, n, seconds)
                )
    by_calls = {
        n: medians({(loop, kind): found for (m, loop, kind), found in runs.items() if m == n})
        for n in loads
    }
    result: dict[str, Any] = dict(by_calls[loads[0]])
    result["calls"] = loads[0]
    result["repeats"] = repeats
    if len(loads) > 1:
        result["by_calls"] = {str(n): figures for n, figures in by_calls.items()}
    return result


FLOOR = "floor"


def floor_of(measured: Measurement, calls: int, seconds: float) -> Measurement:
    """The bare relay at the streams, rate and packet size the SFU just forwarded."""
    streams = 2 * calls  # a one-to-one call forwards both ways
    size = max(1, min(2048, round(measured.mean_bytes) + SRTP_OVERHEAD))
    found = relay_floor.measure(streams, measured.packets_per_s / streams, seconds, size)
    return Measurement(float(found["us_per_packet"]), float(found["packets_per_s"]))


SRTP_OVERHEAD = 16  # an AES-GCM tag on each packet: the relay forwards the wire size


def medians(runs: dict[tuple[str, str], list[Measurement]]) -> dict[str, float]:
    result: dict[str, float] = {}
    floors = {kind: found for (loop, kind), found in runs.items() if loop == FLOOR}
    for (loop_name, kind), found in runs.items():
        key = f"{loop_name}_{kind}"
        result[f"{key}_us"] = round(statistics.median(m.us_per_packet for m in found), 2)
        result[f"{key}_pps"] = round(statistics.median(m.packets_per_s for m in found), 1)
        users = [m.kinstr_user for m in found if m.kinstr_user is not None]
        kernels = [m.kinstr_kernel for m in found if m.kinstr_kernel is not None]
        if users and kernels:
            result[f"{key}_kinstr_user"] = round(statistics.median(users), 2)
            result[f"{key}_kinstr_kernel"] = round(statistics.median(kernels), 2)
        if loop_name != FLOOR and kind in floors:  # paired run by run, then the median
            ratios = [
                m.us_per_packet / f.us_per_packet for m, f in zip(found, floors[kind], strict=True)
            ]
            result[f"{key}_over_floor"] = round(statistics.median(ratios), 2)
    return result


def call_counts(text: str) -> list[int]:
    """``10`` or ``10,100``: one or more loads, each at least one call."""
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of calls: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("every load needs at least 1 call")
    return counts


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument(
        "--calls", type=call_counts, default=[10],
        help="one-to-one calls at once; a comma-separated list measures each load",
    )  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant (median)")
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions too (perf stat)"
    )
    parser.add_argument(
        "--floor", action="store_true",
        help="also run a bare C UDP relay at the same load (bench.relay_floor)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.seconds <= 0 or args.repeats < 1:
        parser.error("--seconds must be > 0, --repeats at least 1")
    result = asyncio.run(
        main(args.seconds, args.calls, args.repeats, args.instructions, args.floor)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    run()
