"""What each client frame does, and who may send it in which session state.

One table (type → parser, roles, states, handler) is the whole client-side
protocol; ``docs/protocol.md`` mirrors it. The server creates the handlers with the
rooms and services they act on, and gives them to each session as its
``FrameDispatch``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from signaling import frames as f
from signaling.call_room import CallRoom
from signaling.call_rooms import CallRooms
from signaling.config import SignalingConfig
from signaling.errors import (
    ERROR_CODES,
    AdmissionRefused,
    FrameRefused,
    TokenRejected,
    bad_field,
)
from signaling.routing import RoomRouting
from signaling.session import Session, SessionState, offer_frame
from signaling.verifier import RoomAdmission, TokenVerifier

if TYPE_CHECKING:
    import sfu
    from signaling.verifier import Grant

log = structlog.get_logger(__name__)

ROLES = frozenset({"host", "guest", "observer"})
PUBLISHERS = frozenset({"host", "guest"})
HOSTS = frozenset({"host"})

Handler = Callable[[Session, Any, "str | None"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FrameSpec:
    parse: Callable[[f.FieldReader], Any]
    handle: Handler
    states: frozenset[SessionState]
    roles: frozenset[str] = ROLES


JOINED = frozenset({SessionState.JOINED})


class FrameHandlers:
    """Implements session's ``FrameDispatch``.

    ``admission`` may be set after construction (the composition wires it once both
    sides exist); it is read on every ``join`` and ``probe``."""

    def __init__(
        self,
        rooms: CallRooms,
        *,
        sfu: sfu.Sfu,
        verifier: TokenVerifier,
        admission: RoomAdmission | None,
        routing: RoomRouting,
        config: SignalingConfig,
    ) -> None:
        self._rooms = rooms
        self._sfu = sfu
        self._verifier = verifier
        self.admission = admission
        self._routing = routing
        self._config = config
        lobby_ok = frozenset({SessionState.JOINED, SessionState.LOBBY})
        self._specs: dict[str, FrameSpec] = {
            "join": FrameSpec(f.parse_join, self.join, frozenset({SessionState.CONNECTING})),
            "ping": FrameSpec(f.parse_nothing, self.ping, frozenset(SessionState)),
            "probe": FrameSpec(f.parse_probe, self.probe, frozenset({SessionState.CONNECTING})),
            "leave": FrameSpec(f.parse_nothing, self.leave, lobby_ok),
            "publish": FrameSpec(f.parse_publish, self.publish, JOINED, PUBLISHERS),
            "unpublish": FrameSpec(f.parse_unpublish, self.unpublish, JOINED, PUBLISHERS),
            "answer": FrameSpec(f.parse_answer, self.answer, JOINED),
            "candidate": FrameSpec(f.parse_candidate, self.candidate, JOINED),
            "admit": FrameSpec(f.parse_lobby_decision, self.admit, JOINED, HOSTS),
            "deny": FrameSpec(f.parse_lobby_decision, self.deny, JOINED, HOSTS),
            "chat": FrameSpec(f.chat_parser(config.chat_max_chars), self.chat, JOINED),
            "file": FrameSpec(f.parse_file, self.file, JOINED, PUBLISHERS),
            "set-quality": FrameSpec(f.parse_set_video_cap, self.set_video_cap, JOINED),
            "restart-ice": FrameSpec(f.parse_restart_ice, self.restart_ice, JOINED),
            "end": FrameSpec(f.parse_nothing, self.end, JOINED, HOSTS),
        }

    @property
    def types(self) -> frozenset[str]:
        return frozenset(self._specs)

    async def dispatch(
        self, session: Session, frame_type: str, reader: f.FieldReader, ref: str | None
    ) -> None:
        spec = self._specs.get(frame_type)
        if spec is None:
            raise FrameRefused("unknown-type", f"unknown frame type {frame_type[:40]!r}")
        if frame_type == "join" and session.state is not SessionState.CONNECTING:
            raise FrameRefused("already-joined", "this connection has already sent 'join'")
        if session.state not in spec.states:
            raise _wrong_state(session.state, frame_type)
        if session.grant is not None and session.role not in spec.roles:
            raise FrameRefused("forbidden", f"a {session.role} may not send '{frame_type}'")
        await spec.handle(session, spec.parse(reader), ref)

    # --- joining ---------------------------------------------------------------------

    async def join(self, session: Session, frame: f.Join, ref: str | None) -> None:
        grant = self._verified(frame.token)
        if grant.role not in ROLES:
            raise FrameRefused("token-invalid", "the token grants an unknown role", field="token")
        await self._admitted(grant)
        while True:
            room = await self._rooms.open(grant.room, role=grant.role)
            async with room.lock:
                if room.closed:
                    continue  # closed while we waited for the lock: open a fresh one
                if session.state is not SessionState.CONNECTING:
                    return  # timed out or disconnected meanwhile
                # Asked again under the room's lock: a booking closed since the first
                # answer either is seen closed here, or closes this room after we entered.
                try:
                    await self._admitted(grant)
                except FrameRefused:
                    await room.close_if_empty(reason="empty")
                    raise
                self._check_room_space(room, grant.subject)
                session.grant = grant
                session.room = room
                session.receive_codecs = frame.codecs
                if grant.role == "guest" and grant.lobby and grant.subject not in room.admitted:
                    await room.put_in_lobby(session, ref)
                else:
                    await room.enter(session, ref)
                return

    def _check_room_space(self, room: CallRoom, subject: str) -> None:
        """A call holds the agent, the citizen and two guests (interpreter, relative):
        past that, pictures get too small to read signs and the uplinks too many. A
        participant coming back (same subject) replaces itself and takes no new place."""
        present = (set(room.members) | set(room.waiting)) - {subject}
        limit = self._config.max_participants_per_room
        if len(present) >= limit:
            raise FrameRefused(
                "room-full", f"this call already has {limit} participants", fatal=True
            )

    def _verified(self, token: object) -> Grant:
        try:
            return self._verifier.verify(token)
        except TokenRejected as exc:
            code = exc.code if exc.code in ERROR_CODES and exc.code.startswith("token-") else None
            raise FrameRefused(
                code or "token-invalid", exc.message, field="token", not_before=exc.not_before
            ) from exc

    async def _admitted(self, grant: Grant) -> None:
        """Refuse a genuine token whose room is closed now (cancelled, over, too early)."""
        admission = self.admission
        if admission is None:
            return
        try:
            await admission.check(grant)
        except AdmissionRefused as exc:
            raise FrameRefused(
                exc.code, exc.message, field="token", not_before=exc.not_before
            ) from exc

    async def admit(self, session: Session, frame: f.LobbyDecision, ref: str | None) -> None:
        room = _room(session)
        async with room.lock:
            guest = room.waiting.get(frame.participant_id)
            if guest is None:
                raise bad_field("participant_id", "no such guest is waiting in the lobby")
            room.admitted.add(guest.participant_id)
            del room.waiting[guest.participant_id]
            await self._routing.broadcast(
                room.id,
                {"type": "lobby-left", "participant_id": guest.participant_id},
                only=room.hosts(),
            )
            await room.enter(guest, None)

    async def deny(self, session: Session, frame: f.LobbyDecision, ref: str | None) -> None:
        room = _room(session)
        async with room.lock:
            guest = room.waiting.pop(frame.participant_id, None)
            if guest is None:
                raise bad_field("participant_id", "no such guest is waiting in the lobby")
            await self._routing.broadcast(
                room.id,
                {"type": "lobby-left", "participant_id": guest.participant_id},
                only=room.hosts(),
            )
            guest.kick("denied", "a host declined to let you in")

    async def leave(self, session: Session, _frame: f.NoFields, ref: str | None) -> None:
        session.leave_reason = "leave"
        session.finish_quietly()

    async def end(self, session: Session, _frame: f.NoFields, ref: str | None) -> None:
        room = _room(session)
        async with room.lock:
            if room.closed:
                return
            await room.end(session.participant_id, reason="host-ended")

    # --- media negotiation -----------------------------------------------------------

    async def publish(self, session: Session, frame: f.Publish, ref: str | None) -> None:
        participant = _participant(session)
        try:
            answer = await participant.publish(frame.sdp, sources=frame.sources)
        except ValueError as exc:
            raise bad_field("sdp", f"the offer was refused: {exc}") from exc
        session.deliver(_ref({"type": "answer", "pc": "publish", "sdp": answer}, ref))

    async def unpublish(self, session: Session, frame: f.Unpublish, ref: str | None) -> None:
        try:
            await _participant(session).unpublish(frame.source)
        except (KeyError, ValueError) as exc:
            raise bad_field("source", f"'{frame.source}' is not published") from exc

    async def answer(self, session: Session, frame: f.Answer, ref: str | None) -> None:
        try:
            await _participant(session).subscription_answer(frame.sdp, frame.offer_id)
        except ValueError as exc:
            raise FrameRefused(
                "answer-refused", f"the answer was refused: {exc}", field="sdp"
            ) from exc

    async def candidate(self, session: Session, frame: f.Candidate, ref: str | None) -> None:
        session.candidates_seen[frame.pc] += 1
        if frame.candidate is None:
            return
        if session.candidates_seen[frame.pc] > self._config.max_candidates_per_pc:
            return
        try:
            await _participant(session).add_remote_candidate(frame.pc, frame.candidate)
        except ValueError as exc:
            raise bad_field("candidate", f"the candidate was refused: {exc}") from exc

    async def restart_ice(self, session: Session, frame: f.RestartIce, ref: str | None) -> None:
        offer = await _participant(session).restart_ice(frame.pc)
        if offer is not None:
            session.deliver(offer_frame(offer, ref, restart=True))

    async def set_video_cap(self, session: Session, frame: f.SetVideoCap, ref: str | None) -> None:
        if frame.participant_id is not None:
            _participant(session).set_wanted_layer(frame.participant_id, frame.max_layer)
            return
        _participant(session).set_video_cap(mode=frame.mode, max_layer=frame.max_layer)

    # --- room messages ---------------------------------------------------------------

    async def chat(self, session: Session, frame: f.Chat, ref: str | None) -> None:
        room = _room(session)
        message = {
            "type": "chat",
            "id": room.next_chat_id(),
            "from": session.participant_id,
            "name": session.name,
            "text": frame.text,
            "ts": time.time(),
        }
        await self._to_room(session, message, ref)
        room.note_chat(session.participant_id, session.role, session.name, frame.text)

    async def file(self, session: Session, frame: f.FileOffer, ref: str | None) -> None:
        room = _room(session)
        offer = {
            "type": "file",
            "id": room.next_chat_id(),
            "from": session.participant_id,
            "name": frame.name,
            "url": frame.url,
            "size": frame.size,
            "mime": frame.mime,
            "ts": time.time(),
        }
        await self._to_room(session, offer, ref)

    async def ping(self, session: Session, _frame: f.NoFields, ref: str | None) -> None:
        session.deliver(_ref({"type": "pong"}, ref))

    async def probe(self, session: Session, frame: f.Probe, ref: str | None) -> None:
        """Before joining, the pre-call check publishes into a throwaway SFU room of its
        own: ICE, DTLS and the SFU's receiver reports prove the media path without
        disturbing the call. The room goes when the socket closes (at the latest at
        the join timeout)."""
        await self._admitted(self._verified(frame.token))
        if session.probe_room is not None:
            raise FrameRefused("bad-field", "one probe per connection", field="sdp")
        room = self._sfu.room(f"probe-{uuid.uuid4().hex}")
        session.probe_room = room
        participant = room.add_participant("probe")
        try:
            answer = await participant.publish(frame.sdp, sources=frame.sources)
        except ValueError as exc:
            raise bad_field("sdp", f"the offer was refused: {exc}") from exc
        reply = {"type": "answer", "pc": "probe", "sdp": answer, "ice_servers": session.ice_servers}
        session.deliver(_ref(reply, ref))

    async def _to_room(self, session: Session, frame: dict[str, Any], ref: str | None) -> None:
        room = _room(session)
        await self._routing.broadcast(room.id, frame, exclude=(session.participant_id,))
        session.deliver(_ref(dict(frame), ref))


def _room(session: Session) -> CallRoom:
    if session.room is None:
        raise FrameRefused("not-joined", "join a room first")
    return session.room


def _participant(session: Session) -> sfu.Participant:
    if session.participant is None:
        raise FrameRefused("not-joined", "join a room first")
    return session.participant


def _wrong_state(state: SessionState, frame_type: str) -> FrameRefused:
    if state is SessionState.CONNECTING:
        return FrameRefused("not-joined", f"send 'join' before '{frame_type}'")
    if state is SessionState.LOBBY:
        return FrameRefused("not-joined", f"waiting in the lobby: '{frame_type}' not allowed yet")
    if state is SessionState.JOINED:
        return FrameRefused("already-joined", f"'{frame_type}' is only allowed before 'join'")
    return FrameRefused("not-joined", "this connection is closing")


def _ref(frame: dict[str, Any], ref: str | None) -> dict[str, Any]:
    if ref is not None:
        frame["ref"] = ref
    return frame
