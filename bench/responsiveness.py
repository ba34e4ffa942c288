"""How late the generator's event loop runs, and how long the server takes to answer.

A slow join can wait in three places: the bots' own loop (the generator is saturated),
the signalling round trips, or the server's loop (busy with media). The lag of a
periodic timer in the bench process measures the first; a small HTTP request to the
server (``/healthz`` for ours, ``/janus/info`` for Janus) every few hundred
milliseconds measures the server's loop as seen from outside. Both are sampled during
the ramp as well as the measured window, since joins happen during the ramp.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp

LAG_TICK_S = 0.02
PROBE_INTERVAL_S = 0.25
PROBE_TIMEOUT_S = 10.0


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


class Responsiveness:
    """``start()`` once; ``take()`` returns the figures since the last ``take()``."""

    def __init__(self, probe_url: str | None) -> None:
        self.probe_url = probe_url
        self._lags_ms: list[float] = []
        self._probes_ms: list[float] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._measure_lag(), name="bench-loop-lag"))
        if self.probe_url:
            self._tasks.append(asyncio.create_task(self._probe(), name="bench-server-probe"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def take(self) -> dict[str, float | None]:
        lags, probes = self._lags_ms, self._probes_ms
        self._lags_ms, self._probes_ms = [], []
        return {
            "generator_lag_p95_ms": _round(_p95(lags)),
            "generator_lag_max_ms": _round(max(lags, default=None)),
            "server_probe_p95_ms": _round(_p95(probes)),
            "server_probe_max_ms": _round(max(probes, default=None)),
        }

    async def _measure_lag(self) -> None:
        while True:
            due = time.monotonic() + LAG_TICK_S
            await asyncio.sleep(LAG_TICK_S)
            self._lags_ms.append(max(0.0, (time.monotonic() - due) * 1000))

    async def _probe(self) -> None:
        assert self.probe_url is not None
        timeout = aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while True:
                started = time.monotonic()
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with http.get(self.probe_url) as reply:
                        await reply.read()
                self._probes_ms.append((time.monotonic() - started) * 1000)
                await asyncio.sleep(PROBE_INTERVAL_S)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
