"""Open N calls against a server (ours or Janus), measure one step, ramp, close.

One step = the calls present, a short settle, then a measured window: packets the
bots sent (into the server) and received (out of it), loss and late packets from
RTP sequence numbers, the server's CPU from /proc, the generator's own CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import aiohttp
import structlog

from bench.janus_client import JanusSession, create_room
from bench.participants import Bot, CallProfile, Clips
from bench.proc_cpu import CoreWindow, CpuWindow
from bench.responsiveness import Responsiveness
from bench.rtp_pump import close_pump

log = structlog.get_logger(__name__)

JOINING_PARTICIPANTS = 8  # participants joining at once during a ramp, whatever the profile
CALL_OPEN_TIMEOUT_S = 30.0


class CallTarget(Protocol):
    """A server the bots can call into."""

    name: str
    server_pid: int
    participants: int  # per call

    @property
    def probe_url(self) -> str | None: ...  # a request the server answers from its loop

    async def open_call(self, index: int) -> list[Bot]: ...

    async def close(self) -> None: ...


class OurTarget:
    """Calls through our signalling: the first participant is the host, others guests."""

    name = "visioguichet"

    def __init__(
        self,
        ws_url: str,
        signer: Any,
        server_pid: int,
        profile: CallProfile,
        clips: Clips,
        ice_address: str = "127.0.0.1",
        run_id: str = "",
    ) -> None:
        self.ws_url = ws_url
        self.signer = signer
        self.server_pid = server_pid
        self.profile = profile
        self.clips = clips
        self.ice_address = ice_address
        self.run_id = run_id or str(int(time.time()))
        self.participants = profile.participants
        base = ws_url.replace("ws://", "http://", 1).removesuffix("/ws")
        self.probe_url = base + "/healthz"

    async def open_call(self, index: int) -> list[Bot]:
        from bench.our_bot import OurBot  # imports signalling only when our side runs

        room = f"bench-{self.run_id}-{index}"
        bots: list[Bot] = []
        starts = []
        for n in range(self.profile.participants):
            role = "host" if n == 0 else "guest"
            subject = f"{room}-p{n}"
            token = self.signer.mint(
                room=room,
                role=role,
                subject=subject,
                name=f"Bot {n}",
                expires_at=time.time() + 3600,
                lobby=False,
            )
            bot = OurBot(subject, self.clips, self.ws_url, self.ice_address)
            bots.append(bot)
            starts.append(bot.start(token))
        try:
            await asyncio.gather(*starts)
        except BaseException:
            await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
            raise
        return bots

    async def close(self) -> None:
        return None


class JanusTarget:
    """Calls in Janus VideoRoom rooms created on the fly; bots subscribe to each other."""

    name = "janus"

    def __init__(
        self, api_url: str, server_pid: int, profile: CallProfile, clips: Clips, ice_address: str
    ) -> None:
        self.api_url = api_url
        self.probe_url = api_url + "/info"
        self.participants = profile.participants
        self.server_pid = server_pid
        self.profile = profile
        self.clips = clips
        self.ice_address = ice_address
        self._http: aiohttp.ClientSession | None = None
        self._admin: JanusSession | None = None
        self._admin_handle = 0
        self._room_ids = itertools.count(10_000)
        self._admin_lock = asyncio.Lock()

    async def _ensure_admin(self) -> tuple[aiohttp.ClientSession, JanusSession]:
        async with self._admin_lock:  # calls open concurrently; one admin session for all
            if self._http is None:
                self._http = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            if self._admin is None:
                admin = await JanusSession.create(self._http, self.api_url)
                self._admin_handle = await admin.attach()
                self._admin = admin
            return self._http, self._admin

    async def open_call(self, index: int) -> list[Bot]:
        from bench.janus_bot import JanusBot

        http, admin = await self._ensure_admin()
        room = next(self._room_ids)
        await create_room(admin, self._admin_handle, room, self.profile.participants + 1)
        bots = [
            JanusBot(f"call{index}-p{n}", self.clips, http, self.api_url, self.ice_address)
            for n in range(self.profile.participants)
        ]
        try:
            await asyncio.gather(*(b.start(room) for b in bots))
            await asyncio.gather(
                *(
                    b.subscribe(room, [o.feed_id for o in bots if o is not b and o.feed_id])
                    for b in bots
                )
            )
        except BaseException:
            await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
            raise
        return [*bots]

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
        if self._http is not None:
            await self._http.close()


@dataclass
class StepResult:
    server: str
    calls: int
    participants: int
    seconds: float
    pps_in: float
    pps_out: float
    server_cpu_pct: float
    us_per_packet: float
    join_p50_s: float | None
    join_p95_s: float | None
    media_start_p95_s: float | None
    loss: float
    late_packets: int
    recv_kbps_per_participant: float
    generator_cpu_pct: float
    generator_cpu_per_call_pct: float
    failed_calls: int
    decoded_samples: int = 0
    srtp_profile: str | None = None
    join_phases_p95_s: dict[str, float] = field(default_factory=dict)
    subscribe_offer_p95_s: float | None = None
    generator_lag_p95_ms: float | None = None
    generator_lag_max_ms: float | None = None
    server_probe_p95_ms: float | None = None
    server_probe_max_ms: float | None = None
    ramp_s: float | None = None
    ramp_server_cpu_pct: float | None = None
    ramp_generator_cpu_pct: float | None = None
    server_core_busy_pct: float | None = None
    keyframe_requests: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    return statistics.quantiles(ordered, n=100, method="inclusive")[round(q) - 1]


class CallLoad:
    """The calls open against one target; ``ramp_to`` then ``measure``, then ``close``."""

    def __init__(self, target: CallTarget, server_core: int | None = None) -> None:
        self.target = target
        self.server_core = server_core
        self.calls: list[list[Bot]] = []
        self.failed_calls = 0
        self._opened = 0
        self._fresh: list[Bot] = []
        self.responsiveness = Responsiveness(target.probe_url)
        self._watching = False
        self._ramp: dict[str, float] = {}
        self._keyframe_requests_seen = 0

    @property
    def bots(self) -> list[Bot]:
        return [bot for call in self.calls for bot in call]

    async def ramp_to(self, calls: int) -> None:
        """Open calls until ``calls`` are up (a few at a time, as users would arrive)."""
        if not self._watching:
            self._watching = True
            self.responsiveness.start()
        per_call = max(1, self.target.participants)
        gate = asyncio.Semaphore(max(1, JOINING_PARTICIPANTS // per_call))

        async def open_one(index: int) -> None:
            async with gate:
                try:
                    async with asyncio.timeout(CALL_OPEN_TIMEOUT_S):
                        bots = await self.target.open_call(index)
                except Exception as exc:
                    self.failed_calls += 1
                    log.warning("bench_call_failed", server=self.target.name, error=repr(exc))
                    return
                self.calls.append(bots)
                self._fresh.extend(bots)

        missing = calls - len(self.calls)
        indexes = [self._opened + i for i in range(max(0, missing))]
        self._opened += len(indexes)
        server_cpu, generator_cpu = CpuWindow(self.target.server_pid), CpuWindow(os.getpid())
        server_cpu.start()
        generator_cpu.start()
        await asyncio.gather(*(open_one(i) for i in indexes))
        self._ramp = {
            "ramp_server_cpu_pct": round(server_cpu.stop(), 1),
            "ramp_generator_cpu_pct": round(generator_cpu.stop(), 1),
            "ramp_s": round(server_cpu.wall_s, 2),
        }

    async def measure(self, seconds: float, settle_s: float = 1.5) -> StepResult:
        await asyncio.sleep(settle_s)
        bots = self.bots
        before = [(b.stats.snapshot(), b.packets_sent()) for b in bots]
        server_cpu = CpuWindow(self.target.server_pid)
        generator_cpu = CpuWindow(os.getpid())
        server_core = CoreWindow(self.server_core)
        server_cpu.start()
        generator_cpu.start()
        server_core.start()
        t0 = time.monotonic()
        await asyncio.sleep(seconds)
        wall = time.monotonic() - t0
        server_pct = server_cpu.stop()
        generator_pct = generator_cpu.stop()
        core_pct = server_core.stop()
        keyframe_requests = sum(b.keyframe_requests() for b in bots)
        after = [(b.stats.snapshot(), b.packets_sent()) for b in bots]

        def delta(key: str) -> int:
            return sum(a[0][key] - b[0][key] for a, b in zip(after, before, strict=True))

        sent = sum(a[1] - b[1] for a, b in zip(after, before, strict=True))
        received = delta("audio_packets") + delta("video_packets")
        expected = delta("audio_expected") + delta("video_expected")
        lost = delta("audio_lost") + delta("video_lost")
        received_bytes = delta("audio_bytes") + delta("video_bytes")
        joins = [b.join_s for b in self._fresh if b.join_s is not None]
        starts = [b.media_start_s for b in self._fresh if b.media_start_s is not None]
        phases: dict[str, list[float]] = {}
        for bot in self._fresh:
            for phase, duration in bot.phases_s.items():
                phases.setdefault(phase, []).append(duration)
        offers = [
            b.events["subscribe_offer"] - b.started_at
            for b in self._fresh
            if "subscribe_offer" in b.events and b.started_at is not None
        ]
        self._fresh = []
        new_keyframe_requests = keyframe_requests - self._keyframe_requests_seen
        self._keyframe_requests_seen = keyframe_requests
        calls = len(self.calls)
        notes = []
        silent = sum(
            1
            for a, b in zip(after, before, strict=True)
            if a[0]["audio_packets"] == b[0]["audio_packets"]
        )
        if silent:
            notes.append(f"{silent} participants received no audio in the window")
        return StepResult(
            server=self.target.name,
            calls=calls,
            participants=len(bots),
            seconds=round(wall, 2),
            pps_in=round(sent / wall, 1),
            pps_out=round(received / wall, 1),
            server_cpu_pct=round(server_pct, 2),
            us_per_packet=round(server_cpu.cpu_s * 1e6 / received, 2) if received else 0.0,
            join_p50_s=_round(_percentile(joins, 50)),
            join_p95_s=_round(_percentile(joins, 95)),
            media_start_p95_s=_round(_percentile(starts, 95)),
            loss=round(lost / expected, 5) if expected else (1.0 if bots else 0.0),
            late_packets=delta("audio_late") + delta("video_late"),
            recv_kbps_per_participant=round(received_bytes * 8 / wall / 1000 / len(bots), 1)
            if bots
            else 0.0,
            generator_cpu_pct=round(generator_pct, 2),
            generator_cpu_per_call_pct=round(generator_pct / calls, 3) if calls else 0.0,
            failed_calls=self.failed_calls,
            decoded_samples=sum(1 for b in bots if b.stats.decoded_sample),
            srtp_profile=bots[0].srtp_profile() if bots else None,
            notes=notes,
            join_phases_p95_s={
                phase: round(p, 3)
                for phase, values in phases.items()
                if (p := _percentile(values, 95)) is not None
            },
            subscribe_offer_p95_s=_round(_percentile(offers, 95)),
            **self.responsiveness.take(),
            **self._ramp,
            server_core_busy_pct=None if core_pct is None else round(core_pct, 1),
            keyframe_requests=new_keyframe_requests,
        )

    async def close(self) -> None:
        bots = self.bots
        self.calls = []
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(30):
                await asyncio.gather(*(b.close() for b in bots), return_exceptions=True)
        await self.target.close()
        await self.responsiveness.close()
        await close_pump()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
