"""Where participants' connections are, and how frames reach them.

``RoomRouting`` is the seam for running several signalling nodes: the local
implementation keeps mailboxes in this process; a Redis implementation (room → node
registry plus pub/sub per node) can replace it without touching sessions.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol


class Mailbox(Protocol):
    """One connected participant, as routing sees it."""

    @property
    def participant_id(self) -> str: ...

    def deliver(self, frame: dict[str, Any]) -> None:
        """Queue a frame for the client; never blocks (bounded queue)."""


class RoomRouting(Protocol):
    async def attach(self, room: str, mailbox: Mailbox) -> Mailbox | None:
        """Register a participant; returns the mailbox it replaces (same id), if any."""

    async def detach(self, room: str, mailbox: Mailbox) -> bool:
        """Unregister; False if that mailbox was no longer the registered one."""

    async def send(self, room: str, participant_id: str, frame: dict[str, Any]) -> bool:
        """Deliver to one participant; False if it is not connected."""

    async def broadcast(
        self,
        room: str,
        frame: dict[str, Any],
        *,
        only: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> int:
        """Deliver to the room (or to ``only``), except ``exclude``; returns the count."""

    async def mailboxes(self, room: str) -> list[Mailbox]: ...

    async def rooms(self) -> list[str]: ...


class LocalRoomRouting:
    """In-process routing: one dict of mailboxes per room."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[str, Mailbox]] = {}

    async def attach(self, room: str, mailbox: Mailbox) -> Mailbox | None:
        members = self._rooms.setdefault(room, {})
        previous = members.get(mailbox.participant_id)
        members[mailbox.participant_id] = mailbox
        return previous if previous is not mailbox else None

    async def detach(self, room: str, mailbox: Mailbox) -> bool:
        members = self._rooms.get(room)
        if members is None or members.get(mailbox.participant_id) is not mailbox:
            return False
        del members[mailbox.participant_id]
        if not members:
            del self._rooms[room]
        return True

    async def send(self, room: str, participant_id: str, frame: dict[str, Any]) -> bool:
        mailbox = self._rooms.get(room, {}).get(participant_id)
        if mailbox is None:
            return False
        mailbox.deliver(frame)
        return True

    async def broadcast(
        self,
        room: str,
        frame: dict[str, Any],
        *,
        only: Collection[str] | None = None,
        exclude: Collection[str] = (),
    ) -> int:
        count = 0
        for participant_id, mailbox in list(self._rooms.get(room, {}).items()):
            if participant_id in exclude or (only is not None and participant_id not in only):
                continue
            mailbox.deliver(frame)
            count += 1
        return count

    async def mailboxes(self, room: str) -> list[Mailbox]:
        return list(self._rooms.get(room, {}).values())

    async def rooms(self) -> list[str]:
        return list(self._rooms)
