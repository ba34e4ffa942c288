"""Room events for integrators; a listener can never break the media path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import structlog

if TYPE_CHECKING:
    from sfu.models import QualityReport
    from sfu.participant import Participant
    from sfu.room import Room

log = structlog.get_logger(__name__)


class RoomListener(Protocol):
    def on_participant_added(self, room: Room, participant: Participant) -> None: ...
    def on_participant_removed(self, room: Room, participant_id: str) -> None: ...
    def on_producer_added(
        self, room: Room, participant_id: str, source: str, kind: str
    ) -> None: ...
    def on_producer_removed(
        self, room: Room, participant_id: str, source: str, kind: str
    ) -> None: ...
    def on_subscription_changed(self, room: Room, participant: Participant) -> None: ...
    def on_quality(self, room: Room, participant: Participant, report: QualityReport) -> None: ...
    def on_active_speaker(self, room: Room, participant_id: str) -> None: ...
    def on_send_layers(
        self, room: Room, participant_id: str, source: str, layers: dict[str, bool]
    ) -> None: ...
    def on_connection_failed(
        self, room: Room, participant_id: str, pc: str, code: str, reason: str
    ) -> None: ...


class RoomListenerBase:
    """No-op implementation of every RoomListener method: override what you need."""

    def on_participant_added(self, room: Room, participant: Participant) -> None:
        return None

    def on_participant_removed(self, room: Room, participant_id: str) -> None:
        return None

    def on_producer_added(self, room: Room, participant_id: str, source: str, kind: str) -> None:
        return None

    def on_producer_removed(self, room: Room, participant_id: str, source: str, kind: str) -> None:
        return None

    def on_subscription_changed(self, room: Room, participant: Participant) -> None:
        return None

    def on_quality(self, room: Room, participant: Participant, report: QualityReport) -> None:
        return None

    def on_active_speaker(self, room: Room, participant_id: str) -> None:
        return None

    def on_send_layers(
        self, room: Room, participant_id: str, source: str, layers: dict[str, bool]
    ) -> None:
        return None

    def on_connection_failed(
        self, room: Room, participant_id: str, pc: str, code: str, reason: str
    ) -> None:
        return None


class ListenerSet:
    """Calls every listener's method; an exception is logged and swallowed."""

    def __init__(self) -> None:
        self._listeners: list[Any] = []

    def add(self, listener: Any) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def clear(self) -> None:
        self._listeners.clear()

    def emit(self, event: str, *args: Any) -> None:
        for listener in list(self._listeners):
            method = getattr(listener, event, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:
                log.exception("sfu_listener_failed", room_event=event)
