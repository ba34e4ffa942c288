"""The signalling server: accepts WebSockets at ``/ws`` and owns rooms and sessions.

One ``SignalingServer`` per process, built by the composition with the SFU, a token
verifier, an optional room admission and an optional call-event listener. ``close()``
closes every connection (1001, so clients reconnect), every room's media and the event
dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, OrderedDict
from collections.abc import Coroutine
from typing import Any

import structlog
from aiohttp import web

import sfu
from signaling import codec
from signaling.call_events import CallEventDispatcher, CallEventListener
from signaling.call_room import CallRoom
from signaling.config import SignalingConfig
from signaling.errors import FrameRefused
from signaling.handlers import FrameHandlers
from signaling.routing import LocalRoomRouting, RoomRouting
from signaling.session import Session
from signaling.sfu_events import CallRoomSfuListener
from signaling.verifier import RoomAdmission, TokenVerifier

log = structlog.get_logger(__name__)


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
        self.admission = admission
        self.config = config
        self.routing: RoomRouting = routing or LocalRoomRouting()
        self.events = CallEventDispatcher(listener)
        self.handlers = FrameHandlers(self)
        self._rooms: dict[str, CallRoom] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._sessions: set[Session] = set()
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._owned: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.frames_in = 0
        self.frames_out = 0
        self.frames_dropped = 0
        self.connections_total = 0
        self.errors: Counter[str] = Counter()

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
        session = Session(self, ws)
        task = asyncio.current_task()
        self._sessions.add(session)
        if task is not None:
            self._handler_tasks.add(task)
        self.connections_total += 1
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            if task is not None:
                self._handler_tasks.discard(task)
        return ws

    def own(self, coro: Coroutine[Any, Any, None], *, name: str) -> asyncio.Task[None]:
        """Run work that must finish even if the connection's handler is cancelled;
        the server keeps the task and ``close()`` waits for it."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._owned.add(task)
        task.add_done_callback(self._owned.discard)
        return task

    # --- rooms -----------------------------------------------------------------------

    async def room_for(self, room_id: str, *, role: str) -> CallRoom:
        """The room's signalling state, opening it (and its SFU room) if needed."""
        if self._closing:
            raise FrameRefused("room-ended", "the server is shutting down", fatal=True)
        if room_id in self._ended:
            if role != "host":
                raise FrameRefused("room-ended", "the call has ended", fatal=True)
            del self._ended[room_id]  # a host may open an ended room again
        room = self._rooms.get(room_id)
        if room is None:
            room = CallRoom(
                room_id,
                self.sfu.room(room_id),
                self.routing,
                self.events,
                quality_event_interval_s=self.config.quality_event_interval_s,
            )
            room.sfu_room.add_listener(CallRoomSfuListener(room))
            self._rooms[room_id] = room
        return room

    async def close_room(self, room_id: str, *, code: str, message: str) -> bool:
        """End a live call that may no longer go on (its booking was cancelled or
        closed): members get ``end`` with ``reason: code`` and ``message``, the lobby
        the fatal error ``code``. Returns whether a call was open here."""
        room = self._rooms.get(room_id)
        if room is None:
            return False
        async with room.lock:
            if room.closed:
                return False
            refusal = FrameRefused(code, message, fatal=True)
            await room.end(None, reason=code, refusal=refusal)
            self.forget_room(room, ended=True)
        log.info("signaling_room_closed", room=room_id, reason=code)
        return True

    def forget_room(self, room: CallRoom, *, ended: bool = False) -> None:
        if self._rooms.get(room.id) is room:
            del self._rooms[room.id]
        if ended:
            self._ended[room.id] = None
            while len(self._ended) > self.config.ended_rooms_remembered:
                self._ended.popitem(last=False)

    # --- counters --------------------------------------------------------------------

    def count_error(self, code: str) -> None:
        self.errors[code] += 1

    def count_dropped(self, _frame: dict[str, Any]) -> None:
        self.frames_dropped += 1

    def stats(self) -> dict[str, Any]:
        sessions = list(self._sessions)
        return {
            "connections": len(sessions),
            "connections_total": self.connections_total,
            "participants": sum(1 for s in sessions if s.state.value == "joined"),
            "lobby_waiting": sum(1 for s in sessions if s.state.value == "lobby"),
            "rooms": len(self._rooms),
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "frames_dropped": self.frames_dropped,
            "call_events_dropped": self.events.dropped,
            "errors": dict(self.errors),
        }

    # --- shutdown --------------------------------------------------------------------

    async def close(self) -> None:
        """Close every connection and room; bounded in time."""
        self._closing = True
        for session in list(self._sessions):
            session.shutdown()
        pending = [t for t in self._handler_tasks if t is not asyncio.current_task()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=5.0)
            for task in still:
                task.cancel()
        if self._owned:
            await asyncio.wait(set(self._owned), timeout=5.0)
        for room in list(self._rooms.values()):
            with contextlib.suppress(Exception):
                async with room.lock:
                    if not room.closed:
                        await room.end(None, reason="shutdown")
        self._rooms.clear()
        await self.events.close()
