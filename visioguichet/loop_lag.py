"""The event loop's lag, sampled all the time: every media packet waits for the loop.

The SFU reads its sockets from the event loop; whatever holds the loop (a slow
handler, a full garbage collection, Python work on the media path) delays every
packet of every call by as much. A 100 ms timer that fires late says by how much,
for a negligible ten wake-ups a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

INTERVAL_S = 0.1


class LoopLagProbe:
    """Owns the sampling task: ``start()`` in the running loop, ``close()`` waits for it."""

    def __init__(self, observe: Callable[[float], None], *, interval_s: float = INTERVAL_S) -> None:
        self._observe = observe
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-lag")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self._interval_s
            await asyncio.sleep(self._interval_s)
            self._observe(max(0.0, loop.time() - due))
