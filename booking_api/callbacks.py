"""Call-back requests ("call me back"): when the pre-call check or the call itself fails,
the citizen leaves a number to be called at (E.164, read with phonenumbers like the
booking's), and the agents of the service see it on the agenda and beside the live queue
until one marks it done.

A booking has one open request at a time: asking again (another number, the call failed
once more) updates it rather than piling up requests the agent would call one by one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import structlog

from booking_api.booking_records import BookingRecord
from booking_api.db import Connection, Database
from booking_api.slots import from_epoch, to_paris_iso
from booking_api.tokens import new_id

log = structlog.get_logger(__name__)

MOMENTS = ("precheck", "call")


@dataclass(frozen=True, slots=True)
class Callback:
    id: str
    booking_id: str
    phone: str
    moment: str
    requested_at: int
    done_at: int | None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "booking_id": self.booking_id,
            "phone": self.phone,
            "moment": self.moment,
            "requested_at": to_paris_iso(from_epoch(self.requested_at)),
            "done": self.done_at is not None,
        }


def _callback(row: Any) -> Callback:
    done = row["done_at"]
    return Callback(
        row["id"],
        row["booking_id"],
        row["phone"],
        row["moment"],
        int(row["created_at"]),
        None if done is None else int(done),
    )


_COLUMNS = "c.id, c.booking_id, c.phone, c.moment, c.created_at, c.done_at"


async def ask(db: Database, booking: BookingRecord, phone: str, moment: str) -> Callback:
    """Record (or update) the booking's open call-back request."""
    now = int(time.time())
    async with db.transaction() as tx:
        updated = await tx.execute(
            "UPDATE callback_requests SET phone = ?, moment = ?, created_at = ? "
            "WHERE booking_id = ? AND done_at IS NULL",
            phone,
            moment,
            now,
            booking.id,
        )
        if not updated:
            await tx.execute(
                "INSERT INTO callback_requests (id, booking_id, phone, moment, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                new_id(),
                booking.id,
                phone,
                moment,
                now,
            )
        row = await tx.fetch_one(
            f"SELECT {_COLUMNS} FROM callback_requests c "
            "WHERE c.booking_id = ? AND c.done_at IS NULL",
            booking.id,
        )
    assert row is not None
    log.info("callback_requested", booking_id=booking.id, moment=moment)
    return _callback(row)


async def open_for_bookings(
    db: Database | Connection, booking_ids: list[str]
) -> dict[str, Callback]:
    """The open request of each of these bookings that has one."""
    if not booking_ids:
        return {}
    marks = ", ".join("?" for _ in booking_ids)
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS} FROM callback_requests c "
        f"WHERE c.done_at IS NULL AND c.booking_id IN ({marks})",
        *booking_ids,
    )
    return {r["booking_id"]: _callback(r) for r in rows}


async def open_requests(db: Database, where: str, *args: Any) -> list[tuple[Callback, Any]]:
    """Open requests with their booking's row (``where`` on ``b``, the booking, and
    ``s``, its service), oldest first."""
    rows = await db.fetch_all(
        f"SELECT {_COLUMNS}, b.citizen_name, b.start_at, m.label AS motif_label "
        "FROM callback_requests c JOIN bookings b ON b.id = c.booking_id "
        "JOIN motifs m ON m.id = b.motif_id JOIN services s ON s.id = m.service_id "
        f"WHERE c.done_at IS NULL AND {where} ORDER BY c.created_at, c.id",
        *args,
    )
    return [(_callback(r), r) for r in rows]


async def load(db: Database, callback_id: str) -> Callback | None:
    row = await db.fetch_one(
        f"SELECT {_COLUMNS} FROM callback_requests c WHERE c.id = ?", callback_id
    )
    return _callback(row) if row else None


async def mark_done(db: Database, callback: Callback, user_id: str) -> Callback:
    """Idempotent: an agent marking a request another already marked changes nothing."""
    await db.execute(
        "UPDATE callback_requests SET done_at = ?, done_by = ? WHERE id = ? AND done_at IS NULL",
        int(time.time()),
        user_id,
        callback.id,
    )
    found = await load(db, callback.id)
    assert found is not None
    log.info("callback_done", booking_id=callback.booking_id)
    return found


async def forget(tx: Connection, booking_id: str) -> None:
    """The purge: numbers go with the citizen's other data."""
    await tx.execute("DELETE FROM callback_requests WHERE booking_id = ?", booking_id)
