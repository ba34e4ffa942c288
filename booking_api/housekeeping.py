"""Timed work: reminders the day before (and by SMS shortly before), and forgetting
citizens after the retention period (statistics keep the booking's motif, times,
outcome and call records).

Every node runs the housekeeper; each booking's job is claimed by the update that does
it (``reminder_sent_at``, ``purged_at`` still empty), so whichever nodes look at the
same time, one reminder is queued and one purge done per booking.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from typing import Literal

import structlog

from booking_api import call_chat, call_guests, callbacks, links, notifications
from booking_api.bookings import ACTIVE, load_booking
from booking_api.context import BookingContext

log = structlog.get_logger(__name__)

DAY_S = 24 * 3600


async def send_due_reminders(ctx: BookingContext, now: float | None = None) -> int:
    """Queue a reminder for appointments starting within a day that were booked earlier
    than a day ahead; each booking gets at most one."""
    now = time.time() if now is None else now
    db = ctx.database
    rows = await db.fetch_all(
        "SELECT id FROM bookings WHERE status = ? AND reminder_sent_at IS NULL "
        "AND start_at > ? AND start_at <= ? AND created_at < start_at - ?",
        ACTIVE,
        int(now),
        int(now + DAY_S),
        DAY_S,
    )
    return await _remind_once(
        ctx, [str(r["id"]) for r in rows], "reminder_sent_at", "reminder", now
    )


async def send_due_soon_reminders(ctx: BookingContext, now: float | None = None) -> int:
    """Queue the SMS sent ``sms_reminder_before_min`` before the start to citizens who
    get SMS (a mail that close to the call is rarely read in time); each booking gets at
    most one, and none if it was booked within that time."""
    lead_s = ctx.config.sms_reminder_before_min * 60
    if lead_s <= 0:
        return 0
    now = time.time() if now is None else now
    db = ctx.database
    rows = await db.fetch_all(
        "SELECT id FROM bookings WHERE status = ? AND soon_reminder_sent_at IS NULL "
        "AND citizen_email IS NULL AND citizen_phone IS NOT NULL "
        "AND start_at > ? AND start_at <= ? AND created_at < start_at - ?",
        ACTIVE,
        int(now),
        int(now + lead_s),
        lead_s,
    )
    ids = [str(r["id"]) for r in rows]
    return await _remind_once(ctx, ids, "soon_reminder_sent_at", "reminder-soon", now)


async def _remind_once(
    ctx: BookingContext,
    booking_ids: list[str],
    sent_column: Literal["reminder_sent_at", "soon_reminder_sent_at"],
    kind: str,
    now: float,
) -> int:
    """Queue reminder ``kind`` for each booking whose ``sent_column`` this node claims
    first (a conditional update: with several nodes, each reminder goes once)."""
    sent = 0
    for booking_id in booking_ids:
        async with ctx.database.transaction() as tx:
            claimed = await tx.execute(
                f"UPDATE bookings SET {sent_column} = ? WHERE id = ? AND {sent_column} IS NULL",
                int(now),
                booking_id,
            )
            if claimed != 1:
                continue
            booking = await load_booking(tx, booking_id)
            assert booking is not None
            join = await links.guest_join_url(ctx, tx, booking)
            if await notifications.notify(ctx, tx, kind, booking, join_url=join):
                sent += 1
            await call_guests.notify_companion(ctx, tx, booking, kind)
    return sent


async def purge_personal_data(ctx: BookingContext, now: float | None = None) -> int:
    """Erase citizens' names, contacts, mails, tokens, documents and survey comments of
    appointments that ended more than ``purge_after_days`` ago, and names left in the
    instant queue as long ago; returns how many bookings were purged."""
    now = time.time() if now is None else now
    cutoff = int(now - ctx.config.purge_after_days * DAY_S)
    db = ctx.database
    rows = await db.fetch_all(
        "SELECT id FROM bookings WHERE purged_at IS NULL AND end_at < ?", cutoff
    )
    purged = 0
    for row in rows:
        async with db.transaction() as tx:
            claimed = await tx.execute(
                "UPDATE bookings SET citizen_name = NULL, citizen_email = NULL, "
                "citizen_phone = NULL, purged_at = ? WHERE id = ? AND purged_at IS NULL",
                int(now),
                row["id"],
            )
            if claimed != 1:
                continue  # another node purged it since the look-up
            purged += 1
            await tx.execute("DELETE FROM outbox WHERE booking_id = ?", row["id"])
            await tx.execute("DELETE FROM issued_join_tokens WHERE booking_id = ?", row["id"])
            await tx.execute("DELETE FROM short_links WHERE booking_id = ?", row["id"])
            await call_guests.forget_guests(tx, row["id"])
            await callbacks.forget(tx, row["id"])
            await call_chat.forget(tx, row["id"])
            await tx.execute("DELETE FROM booking_files WHERE booking_id = ?", row["id"])
            await tx.execute(
                "UPDATE survey_answers SET comment = NULL WHERE booking_id = ?", row["id"]
            )
        await asyncio.to_thread(shutil.rmtree, ctx.config.files_dir / row["id"], ignore_errors=True)
    # Names given when asking for a call now (queue times are in milliseconds).
    await db.execute(
        "UPDATE queue_requests SET citizen_name = NULL "
        "WHERE created_at < ? AND citizen_name IS NOT NULL",
        cutoff * 1000,
    )
    if purged:
        log.info("personal_data_purged", bookings=purged)
    return purged


class Housekeeper:
    """Runs reminders and the purge every ``interval_s`` seconds."""

    def __init__(self, ctx: BookingContext, interval_s: float = 60.0) -> None:
        self._ctx = ctx
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="booking-housekeeper")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await send_due_reminders(self._ctx)
                await send_due_soon_reminders(self._ctx)
                await purge_personal_data(self._ctx)
            except Exception:
                log.exception("housekeeping_pass_failed")
            await asyncio.sleep(self._interval_s)
