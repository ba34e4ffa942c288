"""Wakes live views of the instant queue whenever it changes."""

from __future__ import annotations

import asyncio
import contextlib


class QueueHub:
    """Wakes live queue views (SSE streams) whenever the queue changes."""

    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Condition()

    @property
    def version(self) -> int:
        return self._version

    async def notify(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def wait_change(self, seen: int, timeout_s: float) -> int:
        async with self._changed:
            if self._version == seen:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout_s)
            return self._version
