"""Turns the SFU's room events into signalling: the one place that listens to ``sfu``.

The SFU calls these from its media path; each method only updates state or queues
frames, never awaits, and a failure here is the SFU's to log, never to propagate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sfu

if TYPE_CHECKING:
    from signaling.call_room import CallRoom


class CallRoomSfuListener(sfu.RoomListenerBase):
    def __init__(self, call_room: CallRoom) -> None:
        self._room = call_room

    def on_producer_added(self, room: Any, participant_id: str, source: str, kind: str) -> None:
        self._room.on_producer_added(participant_id, source, kind)

    def on_producer_removed(self, room: Any, participant_id: str, source: str, kind: str) -> None:
        self._room.on_producer_removed(participant_id, source, kind)

    def on_subscription_changed(self, room: Any, participant: Any) -> None:
        self._room.on_subscription_changed(str(participant.id))

    def on_quality(self, room: Any, participant: Any, report: Any) -> None:
        self._room.on_quality(str(participant.id), report)

    def on_active_speaker(self, room: Any, participant_id: str) -> None:
        self._room.on_active_speaker(participant_id)

    def on_send_layers(
        self, room: Any, participant_id: str, source: str, layers: dict[str, bool]
    ) -> None:
        self._room.on_send_layers(participant_id, source, layers)

    def on_send_audio(
        self, room: Any, participant_id: str, source: str, max_bitrate_bps: int | None
    ) -> None:
        self._room.on_send_audio(participant_id, source, max_bitrate_bps)

    def on_connection_failed(
        self, room: Any, participant_id: str, pc: str, code: str, reason: str
    ) -> None:
        session = self._room.sessions.get(participant_id)
        if session is not None:
            session.report_connection_failure(pc, code, reason)
