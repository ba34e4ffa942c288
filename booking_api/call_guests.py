"""Guests of a booking's call: an interpreter, a colleague or a relative the agent
invites (from the agenda or during the call), or a companion the citizen names when
booking.

Each guest gets a join link of their own (role ``guest``, through the lobby: the agent
admits them by the name they were given), valid over the booking's window like the
citizen's and refused once the booking is cancelled or over; a companion receives it by
mail or SMS like the citizen. The room holds four at most (signalling's ``room-full``),
so a booking keeps a handful of guest links: a lost one can be sent again, not more.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import structlog

from booking_api import links, notifications
from booking_api.booking_records import BookingRecord
from booking_api.context import BookingContext
from booking_api.db import Connection, Database
from booking_api.errors import ApiError
from booking_api.tokens import new_id

log = structlog.get_logger(__name__)

# Links a booking may hand out to guests; the room admits two guests at a time.
MAX_GUESTS_PER_BOOKING = 6
COMPANION = "companion"


@dataclass(frozen=True, slots=True)
class Guest:
    id: str
    booking_id: str
    kind: str
    name: str
    created_at: int

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "name": self.name}


async def add_guest(
    ctx: BookingContext,
    db: Database | Connection,
    booking: BookingRecord,
    *,
    kind: str,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    invited_by: str | None = None,
) -> tuple[Guest, str]:
    """Record a guest and mint their join link; (guest, join URL)."""
    row = await db.fetch_one(
        "SELECT COUNT(*) AS n FROM call_guests WHERE booking_id = ?", booking.id
    )
    if row is not None and int(row["n"]) >= MAX_GUESTS_PER_BOOKING:
        raise ApiError(
            409,
            "too-many-guests",
            f"Ce rendez-vous a déjà {MAX_GUESTS_PER_BOOKING} invitations.",
        )
    guest = Guest(new_id(), booking.id, kind, name, int(time.time()))
    await db.execute(
        "INSERT INTO call_guests (id, booking_id, kind, name, email, phone, invited_by, "
        "created_at, created_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        guest.id,
        booking.id,
        kind,
        name,
        email,
        phone,
        invited_by,
        guest.created_at,
        time.time_ns(),
    )
    token = await links.mint_join_token(
        ctx, db, booking, role="guest", subject=f"guest:{guest.id}", name=name
    )
    log.info("call_guest_added", booking_id=booking.id, kind=kind, by_agent=bool(invited_by))
    return guest, links.join_url(ctx, token)


async def list_guests(db: Database | Connection, booking_id: str) -> list[Guest]:
    rows = await db.fetch_all(
        "SELECT id, booking_id, kind, name, created_at FROM call_guests "
        "WHERE booking_id = ? AND name IS NOT NULL ORDER BY created_ns, id",
        booking_id,
    )
    return [
        Guest(r["id"], r["booking_id"], r["kind"], r["name"], int(r["created_at"])) for r in rows
    ]


async def name_companion(
    ctx: BookingContext,
    tx: Connection,
    booking: BookingRecord,
    companion: tuple[str, str | None, str | None],
    *,
    confirmed: bool,
) -> None:
    """The citizen named a companion when booking: kept with the booking; their own link
    goes out now if the booking is confirmed, else when an agent confirms the request."""
    name, email, phone = companion
    _guest, join = await add_guest(
        ctx, tx, booking, kind=COMPANION, name=name, email=email, phone=phone
    )
    if confirmed:
        await _send(ctx, tx, booking, "confirmation", (name, email, phone), join)


async def send_companion_link(ctx: BookingContext, tx: Connection, booking: BookingRecord) -> None:
    """A request awaiting review was confirmed: its companion gets their link now."""
    await notify_companion(ctx, tx, booking, "confirmation")


async def notify_companion(
    ctx: BookingContext, tx: Connection, booking: BookingRecord, kind: str
) -> None:
    """The companion hears what the citizen hears about the booking (confirmation,
    reminders, a new time, a cancellation), with a link of their own minted for the
    booking as it is now: a link made for the old time would not open at the new one."""
    row = await tx.fetch_one(
        "SELECT id, name, email, phone FROM call_guests WHERE booking_id = ? AND kind = ? "
        "AND name IS NOT NULL ORDER BY created_ns LIMIT 1",
        booking.id,
        COMPANION,
    )
    if row is None:
        return
    join = None
    if kind != "cancellation":
        token = await links.mint_join_token(
            ctx, tx, booking, role="guest", subject=f"guest:{row['id']}", name=row["name"]
        )
        join = links.join_url(ctx, token)
    await _send(ctx, tx, booking, kind, (row["name"], row["email"], row["phone"]), join)


async def _send(
    ctx: BookingContext,
    tx: Connection,
    booking: BookingRecord,
    kind: str,
    companion: tuple[str, str | None, str | None],
    join_url: str | None,
) -> None:
    """The booking's notice ``kind``, addressed to the companion with their own link (by
    mail, or SMS to a mobile number), without the citizen's manage link."""
    name, email, phone = companion
    as_companion = dataclasses.replace(
        booking, citizen_name=name, citizen_email=email, citizen_phone=phone
    )
    await notifications.notify(ctx, tx, kind, as_companion, join_url=join_url)


async def forget_guests(tx: Connection, booking_id: str) -> None:
    """The purge: guests' names and contacts go with the citizen's."""
    await tx.execute("DELETE FROM call_guests WHERE booking_id = ?", booking_id)
