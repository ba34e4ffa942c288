"""Carries call events from signalling to booking, which never import each other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class CallEventRecorder(Protocol):
    def record(self, room: str, kind: str, at: float, data: dict[str, Any]) -> Awaitable[None]: ...


class CallEventBridge:
    """A signalling ``CallEventListener`` that hands each event to booking's sink, and
    first to the composition's own ``observers`` (metrics), which must not block.

    A failure to record is logged and swallowed: statistics must never end a call.
    """

    def __init__(
        self, recorder: CallEventRecorder, observers: Sequence[Callable[[Any], None]] = ()
    ) -> None:
        self._recorder = recorder
        self._observers = tuple(observers)

    async def on_call_event(self, event: Any) -> None:
        for observe in self._observers:
            try:
                observe(event)
            except Exception:
                log.exception("call_event_not_observed", kind=event.kind)
        try:
            await self._recorder.record(event.room, event.kind, event.at, dict(event.data))
        except Exception:
            log.exception("call_event_not_recorded", kind=event.kind)
