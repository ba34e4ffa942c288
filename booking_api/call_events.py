"""Keeps the call events signalling reports, for statistics (durations, audio-only)."""

from __future__ import annotations

import json
from typing import Any

from booking_api import call_chat
from booking_api.db import Database
from booking_api.tokens import new_id

KNOWN_KINDS = frozenset(
    {
        "participant-joined",
        "participant-left",
        "call-started",
        "call-ended",
        "call-interrupted",
        "quality",
        "chat",
    }
)


class CallEventStore:
    """The :class:`~booking_api.interfaces.CallEventSink` the composition forwards to."""

    def __init__(self, db_getter: Any) -> None:
        self._db_getter = db_getter

    async def record(self, room: str, kind: str, at: float, data: dict[str, Any]) -> None:
        db: Database = self._db_getter()
        if kind == "chat":  # the written record, apart from the statistics' events
            await call_chat.record(db, str(room), float(at), data)
            return
        if kind == "call-started":
            await self._note_interruption(db, str(room), float(at))
        await db.execute(
            "INSERT INTO call_events (id, booking_id, kind, at, data) VALUES (?, ?, ?, ?, ?)",
            new_id(),
            str(room),
            str(kind),
            float(at),
            json.dumps(_without_identities(data), default=str),
        )

    async def _note_interruption(self, db: Database, room: str, at: float) -> None:
        """A call that starts again without having ended was cut: its node died, or
        every participant lost the link, and the room was opened again (perhaps on
        another node). The record says so, with the last thing heard before."""
        last = await db.fetch_one(
            "SELECT kind, at FROM call_events WHERE booking_id = ? AND kind IN "
            "('call-started', 'call-ended', 'participant-joined', 'participant-left', "
            "'quality') ORDER BY at DESC LIMIT 1",
            room,
        )
        opened = await db.fetch_one(
            "SELECT kind FROM call_events WHERE booking_id = ? AND kind IN "
            "('call-started', 'call-ended') ORDER BY at DESC LIMIT 1",
            room,
        )
        if last is None or opened is None or opened["kind"] != "call-started":
            return
        await db.execute(
            "INSERT INTO call_events (id, booking_id, kind, at, data) VALUES (?, ?, ?, ?, ?)",
            new_id(),
            room,
            "call-interrupted",
            at,
            json.dumps({"last_heard_at": float(last["at"]), "gap_s": at - float(last["at"])}),
        )


def _without_identities(data: dict[str, Any]) -> dict[str, Any]:
    """Statistics need no names: drop them before storing."""
    return {k: v for k, v in data.items() if k not in ("name", "display_name", "email")}
