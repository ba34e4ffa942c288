"""Work that must finish even when the connection handler that started it is cancelled.

aiohttp cancels a WebSocket handler when its peer goes away or the server stops; a
half-done join, ``end`` or removal from the SFU must never be left behind. Sessions
start such work here; the server created this set and waits for it when it closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class OwnedTasks:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run ``coro`` in a task kept here until it finishes."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def wait(self, *, timeout_s: float) -> None:
        """Wait for the tasks running now, at most ``timeout_s``."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
