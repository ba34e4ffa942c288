"""Wakes live views of the instant queue whenever it changes.

A change is often made on another node than the one holding an agent's live view
(the citizen's request lands anywhere), so on PostgreSQL every change is also a
``NOTIFY`` that each node ``LISTEN``s to; SQLite means one process, where waking
the views in memory is enough.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog

from booking_api.db import Database

log = structlog.get_logger(__name__)

CHANNEL = "visioguichet_queue"
RECONNECT_FIRST_S = 0.5
RECONNECT_MAX_S = 10.0


class QueueHub:
    """Wakes live queue views (SSE streams) whenever the queue changes."""

    def __init__(self) -> None:
        self._version = 0
        self._changed = asyncio.Condition()

    @property
    def version(self) -> int:
        return self._version

    async def notify(self) -> None:
        await self.wake()

    async def wake(self) -> None:
        """Wake this process's views."""
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def wait_change(self, seen: int, timeout_s: float) -> int:
        async with self._changed:
            if self._version == seen:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout_s)
            return self._version

    async def close(self) -> None:
        return None


class PostgresQueueHub(QueueHub):
    """Every node's views wake on a change made by any node (LISTEN/NOTIFY).

    The listening connection is its own (a pooled one would be handed to queries);
    when it drops it is opened again, and the views are woken once, since a change may
    have passed while nobody listened.
    """

    def __init__(self, database_url: str, db: Database) -> None:
        super().__init__()
        self._url = database_url
        self._db = db
        self._listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._wakes: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="booking-queue-listener")

    async def wait_listening(self, timeout_s: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), timeout_s)
        return self._listening.is_set()

    async def notify(self) -> None:
        await self.wake()  # this node's views at once, whatever the listener's state
        try:
            await self._db.execute("SELECT pg_notify(?, '')", CHANNEL)
        except (OSError, asyncpg.PostgresError) as exc:
            # The change itself is committed; other nodes' views see it at their next
            # keep-alive instead of at once.
            log.warning("queue_notify_failed", error=str(exc))

    async def _listen(self) -> None:
        delay = RECONNECT_FIRST_S
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self._url, timeout=5)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("queue_listener_unavailable", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_MAX_S)
                continue
            try:
                conn.add_termination_listener(lambda _conn, lost=lost: lost.set())
                await conn.add_listener(CHANNEL, self._on_notify)
                self._listening.set()
                delay = RECONNECT_FIRST_S
                await self.wake()
                await lost.wait()
                log.warning("queue_listener_lost")
            finally:
                self._listening.clear()
                with contextlib.suppress(Exception):
                    await conn.close(timeout=2)

    def _on_notify(self, *_args: object) -> None:
        task = asyncio.get_running_loop().create_task(self.wake())
        self._wakes.add(task)
        task.add_done_callback(self._wakes.discard)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
