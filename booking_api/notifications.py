"""Builds the mails about a booking and puts them in the outbox."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from booking_api import mail_text
from booking_api.booking_records import BookingRecord
from booking_api.context import BookingContext
from booking_api.db import Connection
from booking_api.ics import appointment_ics
from booking_api.outbox import enqueue_mail

KINDS = ("confirmation", "request", "reminder", "cancellation", "reschedule")


def compose(
    ctx: BookingContext,
    kind: str,
    booking: BookingRecord,
    *,
    join_url: str | None,
    manage_url: str | None,
) -> EmailMessage:
    locale = booking.locale if booking.locale in mail_text.LOCALES else "fr"
    now = datetime.now(UTC)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = ctx.config.mail_from
    message["To"] = booking.citizen_email or ""
    message["Subject"] = mail_text.subject(kind, locale, booking.start)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain="visioguichet")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        mail_text.body(
            kind,
            locale,
            name=booking.citizen_name or "",
            organisation=booking.organisation_name,
            motif=booking.motif_label,
            when=booking.start,
            duration_min=booking.duration_min,
            join_url=join_url,
            manage_url=manage_url,
            book_url=f"{ctx.config.public_base_url}/book",
        )
    )
    if kind == "request":
        return message
    description_lines = [booking.motif_label]
    if join_url:
        description_lines.append(join_url)
    ics = appointment_ics(
        uid=f"{booking.id}@visioguichet",
        start=booking.start,
        end=booking.end,
        summary=f"{booking.organisation_name} — {booking.motif_label}",
        description="\n".join(description_lines),
        url=join_url or ctx.config.public_base_url,
        now=now,
        cancelled=kind == "cancellation",
        sequence=int(time.time()) // 60 if kind != "confirmation" else 0,
    )
    method = "CANCEL" if kind == "cancellation" else "PUBLISH"
    message.add_attachment(
        ics.encode("utf-8"),
        maintype="text",
        subtype="calendar",
        filename="rendez-vous.ics",
        params={"method": method, "charset": "utf-8"},
    )
    return message


async def notify(
    ctx: BookingContext,
    tx: Connection,
    kind: str,
    booking: BookingRecord,
    *,
    join_url: str | None = None,
    manage_url: str | None = None,
) -> bool:
    """Queue a mail about the booking if the citizen gave an email; True if queued."""
    if not booking.citizen_email:
        return False
    message = compose(ctx, kind, booking, join_url=join_url, manage_url=manage_url)
    await enqueue_mail(
        tx,
        kind=kind,
        booking_id=booking.id,
        recipient=booking.citizen_email,
        message=message.as_string(),
    )
    ctx.outbox_wakeup.set()
    return True
