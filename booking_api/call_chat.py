"""The call's written messages, kept with the call record: the agent reads them back
afterwards (what was agreed, a reference typed in the chat); the citizen does not, once
the call is over (no endpoint gives them out with a join or manage token). They go with
the citizen's other data at the purge.

Signalling reports each message as a ``chat`` call event; rooms that are no booking's
(load tests) keep nothing.
"""

from __future__ import annotations

import time
from typing import Any

from booking_api.db import Connection, Database
from booking_api.slots import from_epoch, to_paris_iso
from booking_api.tokens import new_id

MAX_CHARS = 2000


async def record(db: Database, booking_id: str, at: float, data: dict[str, Any]) -> None:
    text = str(data.get("text") or "")[:MAX_CHARS]
    if not text:
        return
    if await db.fetch_one("SELECT id FROM bookings WHERE id = ?", booking_id) is None:
        return
    await db.execute(
        "INSERT INTO call_chat (id, booking_id, sent_at, sent_ns, author_name, author_role, "
        "body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        new_id(),
        booking_id,
        int(at),
        time.time_ns(),
        str(data.get("name") or "")[:200] or None,
        str(data.get("role") or "guest")[:20],
        text,
    )


async def messages(db: Database, booking_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT sent_at, author_name, author_role, body FROM call_chat "
        "WHERE booking_id = ? AND body IS NOT NULL ORDER BY sent_ns, id",
        booking_id,
    )
    return [
        {
            "at": to_paris_iso(from_epoch(float(r["sent_at"]))),
            "name": r["author_name"] or "",
            "role": r["author_role"],
            "text": r["body"],
        }
        for r in rows
    ]


async def forget(tx: Connection, booking_id: str) -> None:
    await tx.execute("DELETE FROM call_chat WHERE booking_id = ?", booking_id)
