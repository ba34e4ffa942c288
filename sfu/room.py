"""A room: participants whose producers are forwarded to each other.

The room creates its participants and listens to them (it is each one's
``ParticipantOwner``); it tells integrators what happens through ``RoomListener``s and
tells whoever created it that it closed through the ``on_closed`` callback it was
given. It never imports its creator, and its participants never import it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import structlog

from sfu.codec_policy import room_video_codecs
from sfu.config import SfuConfig
from sfu.models import QualityReport
from sfu.participant import Participant
from sfu.producer import Producer
from sfu.stats import RoomCounters, SfuCounters

log = structlog.get_logger(__name__)

ACTIVE_SPEAKER_MIN_HOLD_S = 1.0
SPEECH_LEVEL_DBOV = 50  # audio-level extension: 0 is loudest, 127 silence


class RoomListener(Protocol):
    """What a room tells integrators, one method per event."""

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
    def on_send_audio(
        self, room: Room, participant_id: str, source: str, max_bitrate_bps: int | None
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

    def on_send_audio(
        self, room: Room, participant_id: str, source: str, max_bitrate_bps: int | None
    ) -> None:
        return None

    def on_connection_failed(
        self, room: Room, participant_id: str, pc: str, code: str, reason: str
    ) -> None:
        return None


class ListenerSet:
    """Every listener of a room, called as one ``RoomListener``.

    A listener may implement only some methods; one that raises is logged and the
    others are still called, so a listener can never break the media path.
    """

    def __init__(self) -> None:
        self._listeners: list[Any] = []

    def add(self, listener: Any) -> None:
        self._listeners.append(listener)

    def remove(self, listener: Any) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def clear(self) -> None:
        self._listeners.clear()

    def on_participant_added(self, room: Room, participant: Participant) -> None:
        self._each(RoomListener.on_participant_added, room, participant)

    def on_participant_removed(self, room: Room, participant_id: str) -> None:
        self._each(RoomListener.on_participant_removed, room, participant_id)

    def on_producer_added(self, room: Room, participant_id: str, source: str, kind: str) -> None:
        self._each(RoomListener.on_producer_added, room, participant_id, source, kind)

    def on_producer_removed(self, room: Room, participant_id: str, source: str, kind: str) -> None:
        self._each(RoomListener.on_producer_removed, room, participant_id, source, kind)

    def on_subscription_changed(self, room: Room, participant: Participant) -> None:
        self._each(RoomListener.on_subscription_changed, room, participant)

    def on_quality(self, room: Room, participant: Participant, report: QualityReport) -> None:
        self._each(RoomListener.on_quality, room, participant, report)

    def on_active_speaker(self, room: Room, participant_id: str) -> None:
        self._each(RoomListener.on_active_speaker, room, participant_id)

    def on_send_layers(
        self, room: Room, participant_id: str, source: str, layers: dict[str, bool]
    ) -> None:
        self._each(RoomListener.on_send_layers, room, participant_id, source, layers)

    def on_send_audio(
        self, room: Room, participant_id: str, source: str, max_bitrate_bps: int | None
    ) -> None:
        self._each(RoomListener.on_send_audio, room, participant_id, source, max_bitrate_bps)

    def on_connection_failed(
        self, room: Room, participant_id: str, pc: str, code: str, reason: str
    ) -> None:
        self._each(RoomListener.on_connection_failed, room, participant_id, pc, code, reason)

    def _each(self, event: Callable[..., None], *args: Any) -> None:
        name = event.__name__
        for listener in list(self._listeners):
            method = getattr(listener, name, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception:
                log.exception("sfu_listener_failed", room_event=name)


class Room:
    # audio levels louder than this (lower numbers) may change the active speaker; the
    # media path calls ``on_audio_level`` only for those
    speech_level_dbov = SPEECH_LEVEL_DBOV

    def __init__(
        self,
        room_id: str,
        config: SfuConfig,
        sfu_counters: SfuCounters,
        on_closed: Callable[[Room], None],
    ) -> None:
        self.id = room_id
        self.config = config
        self.counters = RoomCounters()
        self.listeners = ListenerSet()
        self.participants: dict[str, Participant] = {}
        self.closed = False
        self.active_speaker: str | None = None
        self._speaker_since = 0.0
        self._sfu_counters = sfu_counters
        self._on_closed = on_closed

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
        participant = Participant(
            participant_id,
            app_data or {},
            owner=self,
            room_id=self.id,
            config=self.config,
            room_counters=self.counters,
            sfu_counters=self._sfu_counters,
            speech_level=self.speech_level_dbov,
        )
        self.participants[participant_id] = participant
        self.listeners.on_participant_added(self, participant)
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
        self.listeners.on_participant_removed(self, participant_id)

    def producers(self) -> Iterator[Producer]:
        for participant in self.participants.values():
            yield from participant.producers.values()

    # --- what a participant tells its room (ParticipantOwner) ---------------------
    def video_codecs(self, publisher: Participant) -> list[str]:
        """The room's video codecs for ``publisher``'s answer: VP8, then H.264 and VP9
        where every other participant decodes them (``sfu.codec_policy``)."""
        return room_video_codecs(
            p.video_decoders() for p in self.participants.values() if p is not publisher
        )

    def producer_added(self, producer: Producer) -> None:
        self.listeners.on_producer_added(
            self, producer.participant_id, producer.source, producer.kind
        )
        for participant in self.participants.values():
            if participant.id != producer.participant_id:
                participant.want_new_subscription()

    def producer_removed(self, producer: Producer) -> None:
        self.listeners.on_producer_removed(
            self, producer.participant_id, producer.source, producer.kind
        )
        for participant in self.participants.values():
            if participant.id != producer.participant_id:
                participant.producer_gone(producer)

    def subscription_changed(self, participant: Participant) -> None:
        self.listeners.on_subscription_changed(self, participant)

    def quality_changed(self, participant: Participant, report: QualityReport) -> None:
        self.listeners.on_quality(self, participant, report)

    def connection_failed(
        self, participant: Participant, pc_name: str, code: str, reason: str
    ) -> None:
        self.listeners.on_connection_failed(self, participant.id, pc_name, code, reason)

    def on_audio_level(self, producer: Producer, level: int) -> None:
        """Loudest recent speaker becomes active, held at least a second to avoid flapping."""
        if level > SPEECH_LEVEL_DBOV or producer.participant_id == self.active_speaker:
            return
        now = time.monotonic()
        if now - self._speaker_since < ACTIVE_SPEAKER_MIN_HOLD_S:
            return
        self.active_speaker = producer.participant_id
        self._speaker_since = now
        self.listeners.on_active_speaker(self, producer.participant_id)

    def on_send_layers(self, producer: Producer, layers: dict[str, bool]) -> None:
        """Dynacast: the encodings (by rid) we ask this producer's publisher to send."""
        self.listeners.on_send_layers(self, producer.participant_id, producer.source, layers)

    def on_send_audio(self, producer: Producer, max_bitrate_bps: int | None) -> None:
        """The highest audio bitrate we ask this producer's publisher to encode (None:
        its own choice): a subscriber's link does not carry more (``sfu.audio_fit``)."""
        self.listeners.on_send_audio(
            self, producer.participant_id, producer.source, max_bitrate_bps
        )

    async def close(self) -> None:
        """Remove every participant, then tell whoever made this room that it closed."""
        if self.closed:
            return
        self.closed = True
        for participant_id in list(self.participants):
            await self.remove_participant(participant_id)
        self._on_closed(self)

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
