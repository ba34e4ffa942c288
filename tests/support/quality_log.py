"""Every quality report a room emits, by subscriber, for tests of link adaptation."""

from __future__ import annotations

from sfu import Participant, QualityReport, Room, RoomListenerBase


class QualityLog(RoomListenerBase):
    def __init__(self) -> None:
        self.reports: list[tuple[str, QualityReport]] = []

    def on_quality(self, room: Room, participant: Participant, report: QualityReport) -> None:
        self.reports.append((participant.id, report))

    def of(self, participant_id: str) -> list[QualityReport]:
        return [r for pid, r in self.reports if pid == participant_id]
