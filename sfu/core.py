"""The SFU entry point: a registry of rooms sharing one configuration.

The SFU creates each room and is told when it closes (the callback it gives the room),
so a closed room leaves the registry without the room knowing who made it.
"""

from __future__ import annotations

from typing import Any

from sfu.aiortc import install
from sfu.config import SfuConfig
from sfu.room import Room
from sfu.stats import SfuCounters


class Sfu:
    def __init__(self, config: SfuConfig | None = None) -> None:
        install()  # checks aiortc/aioice/pylibsrtp versions (IncompatibleDependency)
        self.config = config or SfuConfig()
        self.counters = SfuCounters()
        self.rooms: dict[str, Room] = {}
        self.closed = False

    def room(self, room_id: str) -> Room:
        """Get or create a room."""
        if self.closed:
            raise ValueError("the SFU is closed")
        room = self.rooms.get(room_id)
        if room is None:
            room = Room(room_id, self.config, self.counters, self._room_closed)
            self.rooms[room_id] = room
        return room

    def get_room(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    def _room_closed(self, room: Room) -> None:
        if self.rooms.get(room.id) is room:
            del self.rooms[room.id]

    async def close(self) -> None:
        self.closed = True
        for room in list(self.rooms.values()):
            await room.close()

    def stats(self) -> dict[str, Any]:
        """Counters per room and summed, and the process's connection troubles:
        ``{"open_rooms": n, "rooms": {...}, "totals": {...}, "malformed_datagrams": n,
        "connection_failures": {reason: n}}``."""
        rooms = {room_id: room.stats() for room_id, room in self.rooms.items()}
        totals: dict[str, int] = {}
        for counters in rooms.values():
            for key, value in counters.items():
                totals[key] = totals.get(key, 0) + int(value)
        return {
            "open_rooms": len(rooms),
            "rooms": rooms,
            "totals": totals,
            **self.counters.as_dict(),
        }

    def dump(self) -> dict[str, Any]:
        return {"rooms": [room.dump() for room in self.rooms.values()]}
