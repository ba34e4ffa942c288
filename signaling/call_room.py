"""Signalling's view of one room: who is in, who waits in the lobby, the call's life.

Membership changes (join, admit, leave, end) run under one lock per room, so the
SFU sees a participant removed before the same participant is added again, and
events go out in the order things happened. SFU events arrive through
``CallRoomSfuListener`` and become frames for the participants concerned.

The room knows its participants' connections only as ``Attendee`` and reports its
closing to the ``CallRoomListener`` it was given, so it imports neither the session
nor whoever opened it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from signaling.call_events import CallEventDispatcher
from signaling.errors import FrameRefused
from signaling.routing import Mailbox, RoomRouting

if TYPE_CHECKING:
    import sfu

log = structlog.get_logger(__name__)


class Attendee(Mailbox, Protocol):
    """One participant's connection, as its room sees it (implemented by the session)."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def ice_servers(self) -> list[dict[str, Any]]: ...
    @property
    def participant(self) -> sfu.Participant | None: ...

    def enter_lobby(self) -> None: ...
    def enter_room(self, participant: sfu.Participant) -> None: ...
    def request_offer(self) -> None: ...
    def send_quality(self, frame: dict[str, Any]) -> None: ...
    def report_connection_failure(self, pc: str, code: str, message: str) -> None: ...
    def kick(self, code: str, message: str) -> None: ...
    def finish(self, frame: dict[str, Any]) -> None: ...


class CallRoomListener(Protocol):
    """What a room reports to whoever opened it."""

    def on_room_closed(self, room: CallRoom, *, ended: bool) -> None:
        """The room closed, its media too: ``ended`` when the call was ended for
        everybody (by a host, the booking or shutdown), not when the last one left."""


@dataclass(slots=True)
class Member:
    participant_id: str
    role: str
    name: str
    sources: dict[str, str] = field(default_factory=dict)  # source -> kind

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.participant_id,
            "name": self.name,
            "role": self.role,
            "sources": sorted(self.sources),
        }


class CallRoom:
    def __init__(
        self,
        room_id: str,
        sfu_room: sfu.Room,
        routing: RoomRouting,
        events: CallEventDispatcher,
        listener: CallRoomListener,
        *,
        quality_event_interval_s: float,
    ) -> None:
        self.id = room_id
        self.sfu_room = sfu_room
        self._routing = routing
        self._events = events
        self._listener = listener
        self._quality_event_interval_s = quality_event_interval_s
        self.lock = asyncio.Lock()
        self.members: dict[str, Member] = {}
        self.sessions: dict[str, Attendee] = {}
        self.waiting: dict[str, Attendee] = {}
        self.admitted: set[str] = set()
        self.call_started_at: float | None = None
        self.closed = False
        self._chat_seq = 0
        self._last_quality_event: dict[tuple[str, str], tuple[float, tuple[Any, ...]]] = {}

    @property
    def empty(self) -> bool:
        return not self.members and not self.waiting

    def hosts(self) -> list[str]:
        return [m.participant_id for m in self.members.values() if m.role == "host"]

    def next_chat_id(self) -> str:
        self._chat_seq += 1
        return f"m{self._chat_seq}"

    def note_chat(self, participant_id: str, role: str, name: str, text: str) -> None:
        """A message went to the room: kept with the call's record (for the agent)."""
        self._events.emit(
            self.id, "chat", participant_id=participant_id, role=role, name=name, text=text
        )

    # --- membership (callers hold ``lock``) ---------------------------------------

    async def put_in_lobby(self, session: Attendee, ref: str | None) -> None:
        await self._drop_same_subject(session)
        self.waiting[session.participant_id] = session
        session.enter_lobby()
        session.deliver(_with_ref({"type": "lobby-waiting"}, ref))
        await self._routing.broadcast(
            self.id,
            {
                "type": "lobby-waiting",
                "participant": {"id": session.participant_id, "name": session.name},
            },
            only=self.hosts(),
        )

    async def enter(self, session: Attendee, ref: str | None) -> None:
        """Add an admitted session to the SFU room and tell everybody."""
        await self._drop_same_subject(session)
        self.waiting.pop(session.participant_id, None)
        participant = self.sfu_room.add_participant(
            session.participant_id, app_data={"name": session.name, "role": session.role}
        )
        member = Member(session.participant_id, session.role, session.name)
        others = [m.describe() for m in self.members.values()]
        self.members[member.participant_id] = member
        self.sessions[member.participant_id] = session
        await self._routing.attach(self.id, session)
        session.enter_room(participant)
        session.deliver(
            _with_ref(
                {
                    "type": "joined",
                    "participant_id": member.participant_id,
                    "room": self.id,
                    "role": member.role,
                    "name": member.name,
                    "participants": others,
                    "ice_servers": session.ice_servers,
                    "protocol": 1,
                },
                ref,
            )
        )
        await self._routing.broadcast(
            self.id,
            {"type": "participant-joined", "participant": member.describe()},
            exclude=(member.participant_id,),
        )
        if member.role == "host":
            for guest in self.waiting.values():
                session.deliver(
                    {
                        "type": "lobby-waiting",
                        "participant": {"id": guest.participant_id, "name": guest.name},
                    }
                )
        self._events.emit(
            self.id, "participant-joined", participant_id=member.participant_id, role=member.role
        )
        self._maybe_start_call()
        session.request_offer()

    async def remove(self, session: Attendee, *, reason: str) -> None:
        """Take a session out (leave, disconnect, denied, replaced); idempotent."""
        pid = session.participant_id
        if self.waiting.get(pid) is session:
            del self.waiting[pid]
            await self._routing.broadcast(
                self.id, {"type": "lobby-left", "participant_id": pid}, only=self.hosts()
            )
            return
        if self.sessions.get(pid) is not session:
            return
        del self.sessions[pid]
        member = self.members.pop(pid)
        await self._routing.detach(self.id, session)
        try:
            await self.sfu_room.remove_participant(pid)
        except Exception:
            log.exception("sfu_remove_participant_failed", room=self.id)
        await self._routing.broadcast(self.id, {"type": "participant-left", "participant_id": pid})
        self._events.emit(
            self.id, "participant-left", participant_id=pid, role=member.role, reason=reason
        )

    async def end(
        self, by: str | None, *, reason: str, refusal: FrameRefused | None = None
    ) -> None:
        """End the call for everybody: ``end`` to members, ``room-ended`` to the lobby.

        With a ``refusal`` (the room may no longer be entered), members' ``end`` carries
        its code and message as ``reason``/``message`` and the lobby gets it instead."""
        self.closed = True
        end_frame: dict[str, Any] = {"type": "end", "by": by}
        if refusal is not None:
            end_frame.update(reason=refusal.code, message=refusal.message)
        for guest in list(self.waiting.values()):
            if refusal is None:
                guest.kick("room-ended", "the call has ended")
            else:
                guest.kick(refusal.code, refusal.message)
        self.waiting.clear()
        for pid, session in list(self.sessions.items()):
            session.finish(end_frame)
            await self._routing.detach(self.id, session)
            self._events.emit(
                self.id,
                "participant-left",
                participant_id=pid,
                role=self.members[pid].role,
                reason="ended",
            )
        self.sessions.clear()
        self.members.clear()
        await self.close_media()
        self._end_call(reason=reason, by=by)
        self._listener.on_room_closed(self, ended=True)

    async def close_if_empty(self, *, reason: str) -> bool:
        """Close the room once nobody is left; the call ends as ``empty`` (or
        ``shutdown`` when the server is stopping)."""
        if not self.empty or self.closed:
            return False
        self.closed = True
        await self.close_media()
        self._end_call(reason="shutdown" if reason == "shutdown" else "empty", by=None)
        self._listener.on_room_closed(self, ended=False)
        return True

    async def close_media(self) -> None:
        try:
            await self.sfu_room.close()
        except Exception:
            log.exception("sfu_room_close_failed", room=self.id)

    async def _drop_same_subject(self, session: Attendee) -> None:
        previous = self.sessions.get(session.participant_id) or self.waiting.get(
            session.participant_id
        )
        if previous is None or previous is session:
            return
        await self.remove(previous, reason="replaced")
        previous.kick("replaced", "the same participant joined from another connection")

    # --- call life -------------------------------------------------------------------

    def _maybe_start_call(self) -> None:
        if self.call_started_at is not None:
            return
        roles = {m.role: m.participant_id for m in self.members.values()}
        if "host" in roles and "guest" in roles:
            self.call_started_at = time.time()
            self._events.emit(
                self.id, "call-started", host_id=roles["host"], guest_id=roles["guest"]
            )

    def _end_call(self, *, reason: str, by: str | None) -> None:
        if self.call_started_at is None:
            return
        duration = max(0.0, time.time() - self.call_started_at)
        self.call_started_at = None
        self._events.emit(self.id, "call-ended", reason=reason, by=by, duration_s=duration)

    # --- SFU events ------------------------------------------------------------------

    def on_producer_added(self, participant_id: str, source: str, kind: str) -> None:
        member = self.members.get(participant_id)
        if member is not None:
            member.sources[source] = kind
        self._broadcast_now(
            {"type": "published", "participant_id": participant_id, "source": source, "kind": kind}
        )

    def on_producer_removed(self, participant_id: str, source: str, kind: str) -> None:
        member = self.members.get(participant_id)
        if member is not None:
            member.sources.pop(source, None)
        self._broadcast_now(
            {
                "type": "unpublished",
                "participant_id": participant_id,
                "source": source,
                "kind": kind,
            }
        )

    def on_subscription_changed(self, participant_id: str) -> None:
        session = self.sessions.get(participant_id)
        if session is not None:
            session.request_offer()

    def on_active_speaker(self, participant_id: str) -> None:
        self._broadcast_now({"type": "active-speaker", "participant_id": participant_id})

    def on_send_layers(self, participant_id: str, source: str, layers: dict[str, bool]) -> None:
        """Dynacast: tell a publisher which of its simulcast encodings to send."""
        session = self.sessions.get(participant_id)
        if session is not None:
            session.deliver({"type": "send-layers", "source": source, "layers": layers})

    def on_send_audio(self, participant_id: str, source: str, max_bitrate_bps: int | None) -> None:
        """A subscriber's link does not carry this publisher's audio: ask it to encode at
        most ``max_bitrate_bps`` (None: withdraw the ask)."""
        session = self.sessions.get(participant_id)
        if session is not None:
            session.deliver(
                {"type": "send-audio", "source": source, "max_bitrate": max_bitrate_bps}
            )

    def on_quality(self, subscriber_id: str, report: Any) -> None:
        session = self.sessions.get(subscriber_id)
        if session is None:
            return
        frame = {
            "type": "quality",
            "participant_id": report.publisher_id,
            "layer": report.layer,
            "audio_only": bool(report.audio_only),
            "reason": report.reason,
            "estimate_bps": int(report.estimate_bps),
            "loss": float(report.loss),
            "rtt_ms": None if report.rtt_ms is None else float(report.rtt_ms),
        }
        session.send_quality(frame)
        key = (subscriber_id, report.publisher_id)
        state = (frame["layer"], frame["audio_only"], frame["reason"])
        now = time.monotonic()
        last = self._last_quality_event.get(key)
        if last is None or last[1] != state or now - last[0] >= self._quality_event_interval_s:
            self._last_quality_event[key] = (now, state)
            self._events.emit(
                self.id,
                "quality",
                subscriber_id=subscriber_id,
                publisher_id=report.publisher_id,
                audio_only=frame["audio_only"],
                layer=frame["layer"],
                loss=frame["loss"],
                estimate_bps=frame["estimate_bps"],
                rtt_ms=frame["rtt_ms"],
                reason=frame["reason"],
            )

    def _broadcast_now(self, frame: dict[str, Any]) -> None:
        """Synchronous fan-out for SFU callbacks (local sessions only)."""
        for session in list(self.sessions.values()):
            session.deliver(frame)


def _with_ref(frame: dict[str, Any], ref: str | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame
