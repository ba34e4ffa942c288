"""Carries call events from signalling to booking, which never import each other."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

log = structlog.get_logger(__name__)


class CallEventRecorder(Protocol):
    async def record(self, room: str, kind: str, at: float, data: dict[str, Any]) -> None: ...


class CallEventBridge:
    """A signalling ``CallEventListener`` that hands each event to booking's sink.

    A failure to record is logged and swallowed: statistics must never end a call.
    """

    def __init__(self, recorder: CallEventRecorder) -> None:
        self._recorder = recorder

    async def on_call_event(self, event: Any) -> None:
        try:
            await self._recorder.record(event.room, event.kind, event.at, dict(event.data))
        except Exception:
            log.exception("call_event_not_recorded", kind=event.kind)
