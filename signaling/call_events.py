"""Call events for the booking side's statistics, delivered off the signalling path.

A slow or failing listener must never delay a frame nor end a call, so events go
through a bounded queue drained by one task; overflow drops events (counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import structlog

log = structlog.get_logger(__name__)

CallEventKind = Literal[
    "participant-joined", "participant-left", "call-started", "call-ended", "quality", "chat"
]


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Something that happened in a room.

    ``data`` by kind:
    - participant-joined: ``participant_id``, ``role``
    - participant-left: ``participant_id``, ``role``, ``reason``
      (leave|disconnect|replaced|ended|denied|closed)
    - call-started: ``host_id``, ``guest_id`` (the first time a host and a guest are
      both in the room)
    - call-ended: ``reason`` (``host-ended``|``empty``|``shutdown``|``booking-cancelled``|
      ``booking-ended``), ``by`` (host id or None), ``duration_s`` since call-started;
      sent once, only after call-started
    - quality: ``subscriber_id``, ``publisher_id``, ``audio_only``, ``layer``,
      ``loss``, ``estimate_bps``, ``rtt_ms``, ``reason``
    - chat: ``participant_id``, ``role``, ``name``, ``text`` (a message as the room got
      it, for the call's written record)
    """

    room: str
    kind: CallEventKind
    at: float
    data: Mapping[str, Any] = field(default_factory=dict)


class CallEventListener(Protocol):
    async def on_call_event(self, event: CallEvent) -> None: ...


class CallEventDispatcher:
    """Owns the queue and the task that hands events to the listener."""

    def __init__(self, listener: CallEventListener | None, *, max_queued: int = 1024) -> None:
        self._listener = listener
        self._queue: asyncio.Queue[CallEvent] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.delivered = 0

    def emit(self, room: str, kind: CallEventKind, **data: Any) -> None:
        if self._listener is None:
            return
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(CallEvent(room, kind, time.time(), data))
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("call_event_dropped", kind=kind)

    async def _run(self) -> None:
        assert self._listener is not None
        while True:
            event = await self._queue.get()
            try:
                await self._listener.on_call_event(event)
                self.delivered += 1
            except Exception:
                log.exception("call_event_listener_failed", kind=event.kind)
            finally:
                self._queue.task_done()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until every queued event was handed over (bounded in time)."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout_s)

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
