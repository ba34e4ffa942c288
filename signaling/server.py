"""The signalling server: accepts WebSockets at ``/ws`` and owns rooms and sessions.

One ``SignalingServer`` per process, built by the composition with the SFU, a token
verifier, an optional room admission and an optional call-event listener. It creates
its parts and hands each what it needs, so no part imports this module: the
``CallRooms`` registry (which listens to its rooms), the ``FrameHandlers``, and per
connection a ``Session`` with the handlers, the ``OwnedTasks`` and the counters.
``close()`` cascades down: every connection (1001, so clients reconnect), the work
they left running, every room's media, then the event dispatcher.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

import sfu
from signaling import codec
from signaling.call_events import CallEventDispatcher, CallEventListener
from signaling.call_room import CallRoom
from signaling.call_rooms import CallRooms
from signaling.config import SignalingConfig
from signaling.counters import SignalingCounters
from signaling.handlers import FrameHandlers
from signaling.owned_tasks import OwnedTasks
from signaling.routing import LocalRoomRouting, RoomRouting
from signaling.session import Session, SessionState
from signaling.verifier import RoomAdmission, TokenVerifier


class SignalingServer:
    def __init__(
        self,
        sfu: sfu.Sfu,
        verifier: TokenVerifier,
        *,
        listener: CallEventListener | None = None,
        config: SignalingConfig = SignalingConfig(),  # noqa: B008 (frozen, shared safely)
        routing: RoomRouting | None = None,
        admission: RoomAdmission | None = None,
    ) -> None:
        self.sfu = sfu
        self.verifier = verifier
        self.config = config
        self.routing: RoomRouting = routing or LocalRoomRouting()
        self.events = CallEventDispatcher(listener)
        self.counters = SignalingCounters()
        self.rooms = CallRooms(sfu, self.routing, self.events, config)
        self.handlers = FrameHandlers(
            self.rooms,
            sfu=sfu,
            verifier=verifier,
            admission=admission,
            routing=self.routing,
            config=config,
        )
        self._sessions: set[Session] = set()
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._owned = OwnedTasks()
        self._closing = False

    @property
    def admission(self) -> RoomAdmission | None:
        """Asked on every ``join`` and ``probe``; the composition may set it after
        construction, once the booking side exists."""
        return self.handlers.admission

    @admission.setter
    def admission(self, admission: RoomAdmission | None) -> None:
        self.handlers.admission = admission

    # --- aiohttp handler -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=codec.SUBPROTOCOLS,
            max_msg_size=self.config.hard_frame_limit_bytes,
            heartbeat=self.config.heartbeat_s,
        )
        await ws.prepare(request)
        if self._closing:
            await ws.close(code=1001)
            return ws
        session = Session(
            ws,
            config=self.config,
            frames=self.handlers,
            tasks=self._owned,
            counters=self.counters,
        )
        task = asyncio.current_task()
        self._sessions.add(session)
        if task is not None:
            self._handler_tasks.add(task)
        self.counters.connections_total += 1
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            if task is not None:
                self._handler_tasks.discard(task)
        return ws

    # --- rooms -----------------------------------------------------------------------

    async def room_for(self, room_id: str, *, role: str) -> CallRoom:
        """The room's signalling state, opening it (and its SFU room) if needed."""
        return await self.rooms.open(room_id, role=role)

    async def close_room(self, room_id: str, *, code: str, message: str) -> bool:
        """End a live call that may no longer go on (its booking was cancelled or
        closed): members get ``end`` with ``reason: code`` and ``message``, the lobby
        the fatal error ``code``. Returns whether a call was open here."""
        return await self.rooms.end(room_id, code=code, message=message)

    # --- counters --------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        sessions = list(self._sessions)
        counters = self.counters
        return {
            "connections": len(sessions),
            "connections_total": counters.connections_total,
            "participants": sum(1 for s in sessions if s.state is SessionState.JOINED),
            "lobby_waiting": sum(1 for s in sessions if s.state is SessionState.LOBBY),
            "rooms": len(self.rooms),
            "frames_in": counters.frames_in,
            "frames_out": counters.frames_out,
            "frames_dropped": counters.frames_dropped,
            "call_events_dropped": self.events.dropped,
            "errors": dict(counters.errors),
        }

    # --- shutdown --------------------------------------------------------------------

    async def close(self) -> None:
        """Close every connection and room; bounded in time."""
        self._closing = True
        self.rooms.stop_opening()
        for session in list(self._sessions):
            session.shutdown()
        pending = [t for t in self._handler_tasks if t is not asyncio.current_task()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=5.0)
            for task in still:
                task.cancel()
        await self._owned.wait(timeout_s=5.0)
        await self.rooms.close()
        await self.events.close()
