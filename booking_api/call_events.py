"""Keeps the call events signalling reports, for statistics (durations, audio-only)."""

from __future__ import annotations

import json
from typing import Any

from booking_api.db import Database
from booking_api.tokens import new_id

KNOWN_KINDS = frozenset(
    {"participant-joined", "participant-left", "call-started", "call-ended", "quality"}
)


class CallEventStore:
    """The :class:`~booking_api.interfaces.CallEventSink` the composition forwards to."""

    def __init__(self, db_getter: Any) -> None:
        self._db_getter = db_getter

    async def record(self, room: str, kind: str, at: float, data: dict[str, Any]) -> None:
        db: Database = self._db_getter()
        await db.execute(
            "INSERT INTO call_events (id, booking_id, kind, at, data) VALUES (?, ?, ?, ?, ?)",
            new_id(),
            str(room),
            str(kind),
            float(at),
            json.dumps(_without_identities(data), default=str),
        )


def _without_identities(data: dict[str, Any]) -> dict[str, Any]:
    """Statistics need no names: drop them before storing."""
    return {k: v for k, v in data.items() if k not in ("name", "display_name", "email")}
