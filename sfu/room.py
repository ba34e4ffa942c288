"""A room: participants whose producers are forwarded to each other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sfu.config import SfuConfig
from sfu.listener import ListenerSet
from sfu.participant import Participant
from sfu.producer import Producer
from sfu.stats import RoomCounters

if TYPE_CHECKING:
    from sfu.core import Sfu

ACTIVE_SPEAKER_MIN_HOLD_S = 1.0
SPEECH_LEVEL_DBOV = 50  # audio-level extension: 0 is loudest, 127 silence


class Room:
    # audio levels louder than this (lower numbers) may change the active speaker; the
    # media path calls ``on_audio_level`` only for those
    speech_level_dbov = SPEECH_LEVEL_DBOV

    def __init__(self, sfu: Sfu, room_id: str) -> None:
        self.sfu = sfu
        self.id = room_id
        self.config: SfuConfig = sfu.config
        self.counters = RoomCounters()
        self.listeners = ListenerSet()
        self.participants: dict[str, Participant] = {}
        self.closed = False
        self.active_speaker: str | None = None
        self._speaker_since = 0.0

    def add_listener(self, listener: Any) -> None:
        self.listeners.add(listener)

    def remove_listener(self, listener: Any) -> None:
        self.listeners.remove(listener)

    def add_participant(
        self, participant_id: str, app_data: dict[str, Any] | None = None
    ) -> Participant:
        """Add a participant; ValueError if the id is already in the room or it is closed."""
        if self.closed:
            raise ValueError(f"room {self.id} is closed")
        if not participant_id:
            raise ValueError("participant_id must not be empty")
        if participant_id in self.participants:
            raise ValueError(f"participant {participant_id} is already in room {self.id}")
        participant = Participant(self, participant_id, app_data or {})
        self.participants[participant_id] = participant
        self.listeners.emit("on_participant_added", self, participant)
        if any(True for _ in self.producers()):
            participant.want_new_subscription()
        return participant

    def get_participant(self, participant_id: str) -> Participant | None:
        return self.participants.get(participant_id)

    async def remove_participant(self, participant_id: str) -> None:
        """Close the participant's connections, producers and consumers (no-op if absent)."""
        participant = self.participants.pop(participant_id, None)
        if participant is None:
            return
        await participant.close()
        if self.active_speaker == participant_id:
            self.active_speaker = None
        self.listeners.emit("on_participant_removed", self, participant_id)

    def producers(self) -> Iterator[Producer]:
        for participant in self.participants.values():
            yield from participant.producers.values()

    def producer_added(self, producer: Producer) -> None:
        self.listeners.emit(
            "on_producer_added", self, producer.participant_id, producer.source, producer.kind
        )
        for participant in self.participants.values():
            if participant.id != producer.participant_id:
                participant.want_new_subscription()

    def producer_removed(self, producer: Producer) -> None:
        self.listeners.emit(
            "on_producer_removed", self, producer.participant_id, producer.source, producer.kind
        )
        for participant in self.participants.values():
            if participant.id != producer.participant_id:
                participant.producer_gone(producer)

    def on_audio_level(self, producer: Producer, level: int) -> None:
        """Loudest recent speaker becomes active, held at least a second to avoid flapping."""
        if level > SPEECH_LEVEL_DBOV or producer.participant_id == self.active_speaker:
            return
        now = time.monotonic()
        if now - self._speaker_since < ACTIVE_SPEAKER_MIN_HOLD_S:
            return
        self.active_speaker = producer.participant_id
        self._speaker_since = now
        self.listeners.emit("on_active_speaker", self, producer.participant_id)

    def on_send_layers(self, producer: Producer, layers: dict[str, bool]) -> None:
        """Dynacast: the encodings (by rid) we ask this producer's publisher to send."""
        self.listeners.emit(
            "on_send_layers", self, producer.participant_id, producer.source, layers
        )

    async def close(self) -> None:
        """Remove every participant, then forget this room in its SFU."""
        if self.closed:
            return
        self.closed = True
        for participant_id in list(self.participants):
            await self.remove_participant(participant_id)
        self.sfu._forget(self)

    def stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self.counters.as_dict()
        data["participants"] = len(self.participants)
        data["producers"] = sum(1 for _ in self.producers())
        data["consumers"] = sum(len(p.consumers) for p in self.participants.values())
        return data

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "active_speaker": self.active_speaker,
            "stats": self.stats(),
            "participants": [p.dump() for p in self.participants.values()],
        }
