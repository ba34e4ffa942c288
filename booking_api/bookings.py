"""Booking, cancelling, rescheduling and closing appointments.

A booking claims its agent's time as rows of ``agent_busy_blocks``; the table's primary
key refuses a second claim on any block, so when two requests race for one slot the
database lets exactly one through. Nothing here checks-then-inserts under a lock.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from booking_api import call_guests, links, notifications
from booking_api.booking_records import BookingRecord, Citizen, record_from_row
from booking_api.catalogue import Motif, agent_calendars
from booking_api.context import BookingContext
from booking_api.db import Connection, Database, UniqueViolation
from booking_api.errors import ApiError, ValidationFailed
from booking_api.join_gate import end_live_call
from booking_api.slots import (
    PARIS,
    AgentCalendar,
    Slot,
    blocks_of,
    candidate_slots,
    from_epoch,
    is_free,
    occupied_interval,
)
from booking_api.tokens import hash_secret, new_id, new_secret

ACTIVE = "booked"
# A motif flagged "needs review": the request holds its slot until an agent confirms it.
PENDING = "pending"
OPEN = (ACTIVE, PENDING)
STATUSES = ("booked", "pending", "cancelled", "done", "no-show")
OUTCOMES = ("done", "no-show")


_SELECT = (
    "SELECT b.*, m.label AS motif_label, m.duration_min, m.buffer_min, m.service_id, "
    "s.organisation_id, o.name AS organisation_name, u.name AS agent_name "
    "FROM bookings b JOIN motifs m ON m.id = b.motif_id JOIN services s ON s.id = m.service_id "
    "JOIN organisations o ON o.id = s.organisation_id JOIN users u ON u.id = b.agent_id "
)


async def load_booking(db: Database | Connection, booking_id: str) -> BookingRecord | None:
    row = await db.fetch_one(_SELECT + "WHERE b.id = ?", booking_id)
    return record_from_row(row) if row else None


async def load_by_manage_token(db: Database | Connection, token: str) -> BookingRecord | None:
    row = await db.fetch_one(_SELECT + "WHERE b.manage_token_hash = ?", hash_secret(token))
    return record_from_row(row) if row else None


async def list_bookings(
    db: Database, where: str, *args: Any, order: str = "b.start_at"
) -> list[BookingRecord]:
    rows = await db.fetch_all(_SELECT + f"WHERE {where} ORDER BY {order}", *args)
    return [record_from_row(r) for r in rows]


# --- choosing the agent and slot ----------------------------------------------


async def _candidates(
    db: Database | Connection,
    motif: Motif,
    start: datetime,
    agent_id: str | None,
    now: datetime,
    *,
    ignore_booking: str | None = None,
) -> list[tuple[Slot, AgentCalendar]]:
    """Agents who could take this start, free ones first; raises if the start is no slot."""
    if start < now:
        raise ValidationFailed(
            {"start": "Ce créneau est déjà passé."}, codes={"start": "slot-past"}
        )
    timing = motif.timing
    if start < now + timing.notice:
        raise ValidationFailed(
            {
                "start": "Ce créneau est trop proche : réservez au moins "
                f"{motif.notice_min} minutes à l’avance."
            },
            codes={"start": "slot-too-soon"},
        )
    if start > now + timing.horizon:
        raise ValidationFailed(
            {
                "start": "Ce créneau est trop lointain : au plus "
                f"{motif.horizon_days} jours à l’avance."
            },
            codes={"start": "slot-too-far"},
        )
    day = start.astimezone(PARIS).date()
    calendars = await agent_calendars(db, motif.service_id, day, day, agent_id)
    matches: list[tuple[Slot, AgentCalendar]] = []
    for calendar in calendars:
        if ignore_booking is not None:
            calendar = await _without_booking(db, calendar, ignore_booking)
        for slot in candidate_slots(timing, calendar, day, day):
            if slot.start == start and not any(
                slot.occupied.overlaps(a) for a in calendar.absences
            ):
                matches.append((slot, calendar))
    if not matches and any(day in c.closed_days for c in calendars):
        raise ValidationFailed(
            {"start": "Le service est fermé ce jour-là (férié ou fermeture)."},
            codes={"start": "service-closed"},
        )
    if not matches:
        field = "agent_id" if agent_id is not None and not calendars else "start"
        message = (
            "Ce conseiller ne reçoit pas pour ce motif."
            if field == "agent_id"
            else "Aucun créneau ne commence à cette heure pour ce motif."
        )
        code = "agent-not-offering" if field == "agent_id" else "no-such-slot"
        raise ValidationFailed({field: message}, codes={field: code})
    matches.sort(key=lambda m: not is_free(m[0], timing, m[1]))
    return matches


async def _without_booking(
    db: Database | Connection, calendar: AgentCalendar, booking_id: str
) -> AgentCalendar:
    """The calendar as if the booking being moved did not hold its time (rescheduling)."""
    rows = await db.fetch_all(
        "SELECT MIN(block) AS first_block, MAX(block) AS last_block FROM agent_busy_blocks "
        "WHERE booking_id = ?",
        booking_id,
    )
    if not rows or rows[0]["first_block"] is None:
        return calendar
    own = (
        from_epoch(int(rows[0]["first_block"]) * 300),
        from_epoch((int(rows[0]["last_block"]) + 1) * 300),
    )
    busy = [b for b in calendar.busy if (b.start, b.end) != own]
    return dataclasses.replace(calendar, busy=busy)


async def _claim(
    tx: Connection, agent_id: str, booking_id: str, slot: Slot, buffer_min: int
) -> None:
    interval = occupied_interval(slot.start, slot.end, timedelta(minutes=buffer_min))
    for block in blocks_of(interval):
        await tx.execute(
            "INSERT INTO agent_busy_blocks (agent_id, block, booking_id) VALUES (?, ?, ?)",
            agent_id,
            block,
            booking_id,
        )


def slot_taken() -> ApiError:
    return ApiError(409, "slot-taken", "Ce créneau vient d’être réservé. Choisissez-en un autre.")


# --- flows ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewBooking:
    motif: Motif
    start: datetime
    agent_id: str | None
    citizen: Citizen
    channel: str = "video"
    booked_by: str = "self"
    booked_by_user_id: str | None = None
    partner_point_id: str | None = None
    consent_at: int | None = None
    locale: str = "fr"
    companion: Citizen | None = None  # a third person in the call, with their own link


@dataclass(frozen=True, slots=True)
class CreatedBooking:
    record: BookingRecord
    manage_token: str
    join_url: str | None  # none while the request awaits review
    manage_url: str


async def create_booking(ctx: BookingContext, new: NewBooking, now: datetime) -> CreatedBooking:
    """Book the first agent free at ``new.start``; 409 if the slot went to someone else.

    A citizen's or partner point's booking of a motif that needs review is a request
    (``pending``) until an agent confirms it; staff bookings are confirmed at once."""
    db = ctx.database
    reviewed = new.motif.needs_review and new.booked_by in ("self", "partner")
    status = PENDING if reviewed else ACTIVE
    candidates = await _candidates(db, new.motif, new.start, new.agent_id, now)
    for slot, calendar in candidates:
        if not is_free(slot, new.motif.timing, calendar):
            continue
        booking_id = new_id()
        manage_token = new_secret()
        try:
            async with db.transaction() as tx:
                await tx.execute(
                    "INSERT INTO bookings (id, motif_id, agent_id, start_at, end_at, status, "
                    "channel, booked_by, booked_by_user_id, partner_point_id, consent_at, "
                    "citizen_name, citizen_email, citizen_phone, locale, manage_token_hash, "
                    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    booking_id,
                    new.motif.id,
                    calendar.agent_id,
                    int(slot.start.timestamp()),
                    int(slot.end.timestamp()),
                    status,
                    new.channel,
                    new.booked_by,
                    new.booked_by_user_id,
                    new.partner_point_id,
                    new.consent_at,
                    new.citizen.name,
                    new.citizen.email,
                    new.citizen.phone,
                    new.locale,
                    hash_secret(manage_token),
                    int(now.timestamp()),
                )
                await _claim(tx, calendar.agent_id, booking_id, slot, new.motif.buffer_min)
                record = await load_booking(tx, booking_id)
                assert record is not None
                join = None if reviewed else await links.guest_join_url(ctx, tx, record)
                manage = links.manage_url(ctx, manage_token)
                await notifications.notify(
                    ctx,
                    tx,
                    "request" if reviewed else "confirmation",
                    record,
                    join_url=join,
                    manage_url=manage,
                )
                if new.companion is not None:
                    companion = (new.companion.name, new.companion.email, new.companion.phone)
                    await call_guests.name_companion(
                        ctx, tx, record, companion, confirmed=not reviewed
                    )
        except UniqueViolation:
            continue
        return CreatedBooking(record, manage_token, join, manage)
    raise slot_taken()


async def cancel_booking(
    ctx: BookingContext, booking: BookingRecord, *, notify: bool = True
) -> BookingRecord:
    """Cancel a booking or a request awaiting review (declining it)."""
    if booking.status not in OPEN:
        raise ApiError(409, "not-active", "Ce rendez-vous n’est plus modifiable.")
    async with ctx.database.transaction() as tx:
        changed = await tx.execute(
            "UPDATE bookings SET status = 'cancelled', cancelled_at = ? "
            "WHERE id = ? AND status IN (?, ?)",
            int(time.time()),
            booking.id,
            *OPEN,
        )
        if changed != 1:
            raise ApiError(409, "not-active", "Ce rendez-vous n’est plus modifiable.")
        await tx.execute("DELETE FROM agent_busy_blocks WHERE booking_id = ?", booking.id)
        record = await load_booking(tx, booking.id)
        assert record is not None
        if notify:
            await notifications.notify(ctx, tx, "cancellation", record)
            await call_guests.notify_companion(ctx, tx, record, "cancellation")
    await end_live_call(ctx, record)
    return record


async def reschedule_booking(
    ctx: BookingContext,
    booking: BookingRecord,
    motif: Motif,
    start: datetime,
    now: datetime,
    *,
    manage_url: str | None = None,
    agent_id: str | None = None,
) -> tuple[BookingRecord, str | None]:
    """Move an active booking to another start (``agent_id``, or any agent of the service);
    returns the record and a fresh guest join URL (none for a request awaiting review).

    The citizen's manage link and staff acting on the citizen's behalf both come here, so
    notice, horizon, closed days and the database's claim on the slot apply alike."""
    if booking.status not in OPEN:
        raise ApiError(409, "not-active", "Ce rendez-vous n’est plus modifiable.")
    db = ctx.database
    candidates = await _candidates(db, motif, start, agent_id, now, ignore_booking=booking.id)
    for slot, calendar in candidates:
        if not is_free(slot, motif.timing, calendar):
            continue
        try:
            async with db.transaction() as tx:
                await tx.execute("DELETE FROM agent_busy_blocks WHERE booking_id = ?", booking.id)
                await _claim(tx, calendar.agent_id, booking.id, slot, motif.buffer_min)
                changed = await tx.execute(
                    "UPDATE bookings SET agent_id = ?, start_at = ?, end_at = ?, "
                    "reminder_sent_at = NULL WHERE id = ? AND status = ?",
                    calendar.agent_id,
                    int(slot.start.timestamp()),
                    int(slot.end.timestamp()),
                    booking.id,
                    booking.status,
                )
                if changed != 1:
                    raise ApiError(409, "not-active", "Ce rendez-vous n’est plus modifiable.")
                record = await load_booking(tx, booking.id)
                assert record is not None
                join = (
                    await links.guest_join_url(ctx, tx, record) if record.status == ACTIVE else None
                )
                await notifications.notify(
                    ctx, tx, "reschedule", record, join_url=join, manage_url=manage_url
                )
                if record.status == ACTIVE:
                    await call_guests.notify_companion(ctx, tx, record, "reschedule")
        except UniqueViolation:
            continue
        return record, join
    raise slot_taken()


async def confirm_request(ctx: BookingContext, booking: BookingRecord) -> BookingRecord:
    """An agent accepts a request awaiting review: it becomes a booking and the citizen
    gets the confirmation with the join link and the calendar file."""
    if booking.status != PENDING:
        raise ApiError(409, "not-pending", "Ce rendez-vous n’attend pas de vérification.")
    async with ctx.database.transaction() as tx:
        changed = await tx.execute(
            "UPDATE bookings SET status = ? WHERE id = ? AND status = ?",
            ACTIVE,
            booking.id,
            PENDING,
        )
        if changed != 1:
            raise ApiError(409, "not-pending", "Ce rendez-vous n’attend pas de vérification.")
        record = await load_booking(tx, booking.id)
        assert record is not None
        join = await links.guest_join_url(ctx, tx, record)
        await notifications.notify(ctx, tx, "confirmation", record, join_url=join)
        await call_guests.send_companion_link(ctx, tx, record)
    return record


async def set_outcome(ctx: BookingContext, booking: BookingRecord, outcome: str) -> BookingRecord:
    if outcome not in OUTCOMES:
        raise ValidationFailed(
            {"status": "Le statut doit être « done » ou « no-show »."},
            codes={"status": "not-allowed"},
        )
    if booking.status == "cancelled":
        raise ApiError(409, "not-active", "Ce rendez-vous a été annulé.")
    async with ctx.database.transaction() as tx:
        await tx.execute(
            "UPDATE bookings SET status = ?, outcome_at = ? WHERE id = ?",
            outcome,
            int(time.time()),
            booking.id,
        )
        record = await load_booking(tx, booking.id)
    assert record is not None
    await end_live_call(ctx, record)
    return record
