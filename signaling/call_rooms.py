"""The call rooms of this process: each opened on its first join, forgotten when it
closes, and remembered once ended so that guests are refused with ``room-ended``.

The registry creates every ``CallRoom`` with its SFU room and listens to both: the
SFU's events through ``CallRoomSfuListener``, the room's closing as its
``CallRoomListener``. Nobody has to remember to forget a room.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict

import structlog

import sfu
from signaling.call_events import CallEventDispatcher
from signaling.call_room import CallRoom
from signaling.config import SignalingConfig
from signaling.errors import FrameRefused
from signaling.routing import RoomRouting
from signaling.sfu_events import CallRoomSfuListener

log = structlog.get_logger(__name__)


class CallRooms:
    """Implements call_room's ``CallRoomListener`` for the rooms it opens."""

    def __init__(
        self,
        sfu: sfu.Sfu,
        routing: RoomRouting,
        events: CallEventDispatcher,
        config: SignalingConfig,
    ) -> None:
        self._sfu = sfu
        self._routing = routing
        self._events = events
        self._config = config
        self._rooms: dict[str, CallRoom] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._opening = True

    def __len__(self) -> int:
        return len(self._rooms)

    def ids(self) -> list[str]:
        """The rooms open here (with several nodes: those whose placement this node keeps)."""
        return list(self._rooms)

    async def open(self, room_id: str, *, role: str) -> CallRoom:
        """The room's signalling state, opening it (and its SFU room) if needed."""
        if not self._opening:
            raise FrameRefused("room-ended", "the server is shutting down", fatal=True)
        if room_id in self._ended:
            if role != "host":
                raise FrameRefused("room-ended", "the call has ended", fatal=True)
            del self._ended[room_id]  # a host may open an ended room again
        room = self._rooms.get(room_id)
        if room is None:
            room = CallRoom(
                room_id,
                self._sfu.room(room_id),
                self._routing,
                self._events,
                self,
                quality_event_interval_s=self._config.quality_event_interval_s,
            )
            room.sfu_room.add_listener(CallRoomSfuListener(room))
            self._rooms[room_id] = room
        return room

    async def end(self, room_id: str, *, code: str, message: str) -> bool:
        """End a live call that may no longer go on: members get ``end`` with
        ``reason: code`` and ``message``, the lobby the fatal error ``code``.
        Returns whether a call was open here."""
        room = self._rooms.get(room_id)
        if room is None:
            return False
        async with room.lock:
            if room.closed:
                return False
            refusal = FrameRefused(code, message, fatal=True)
            await room.end(None, reason=code, refusal=refusal)
        log.info("signaling_room_closed", room=room_id, reason=code)
        return True

    def on_room_closed(self, room: CallRoom, *, ended: bool) -> None:
        if self._rooms.get(room.id) is room:
            del self._rooms[room.id]
        if ended:
            self._ended[room.id] = None
            while len(self._ended) > self._config.ended_rooms_remembered:
                self._ended.popitem(last=False)

    def stop_opening(self) -> None:
        """From now on every ``open`` is refused (the server is shutting down)."""
        self._opening = False

    async def close(self) -> None:
        """End every call still open (``shutdown``)."""
        self.stop_opening()
        for room in list(self._rooms.values()):
            with contextlib.suppress(Exception):
                async with room.lock:
                    if not room.closed:
                        await room.end(None, reason="shutdown")
        self._rooms.clear()
