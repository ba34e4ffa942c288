"""Builds the mails and SMS about a booking and puts them in the outbox.

A citizen who gave an email gets mails; one who gave only a mobile number gets the same
notices by SMS, with short links (``booking_api.short_links``) so that each fits one SMS.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import phonenumbers

from booking_api import mail_text, short_links, sms_text
from booking_api.booking_records import BookingRecord
from booking_api.context import BookingContext
from booking_api.db import Connection
from booking_api.ics import appointment_ics
from booking_api.outbox import enqueue_mail, enqueue_sms

KINDS = ("confirmation", "request", "reminder", "cancellation", "reschedule")


def compose(
    ctx: BookingContext,
    kind: str,
    booking: BookingRecord,
    *,
    join_url: str | None,
    manage_url: str | None,
    operator: str | None = None,
) -> EmailMessage:
    """The mail; ``operator`` is the site's operator as the administrator named it."""
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
            operator=operator,
            privacy_url=f"{ctx.config.public_base_url}/donnees-personnelles",
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
    """Queue a mail about the booking if the citizen gave an email, else an SMS if they
    gave a mobile number; True if queued."""
    if not booking.citizen_email:
        if kind not in sms_text.KINDS or not can_take_sms(booking.citizen_phone):
            return False
        await enqueue_sms(
            tx,
            kind=kind,
            booking_id=booking.id,
            to=str(booking.citizen_phone),
            text=await compose_sms(ctx, tx, kind, booking, join_url, manage_url),
        )
        ctx.outbox_wakeup.set()
        return True
    if kind not in KINDS:
        return False
    operator = (await ctx.site_identity.current(tx)).name
    message = compose(
        ctx, kind, booking, join_url=join_url, manage_url=manage_url, operator=operator
    )
    await enqueue_mail(
        tx,
        kind=kind,
        booking_id=booking.id,
        recipient=booking.citizen_email,
        message=message.as_string(),
    )
    ctx.outbox_wakeup.set()
    return True


def can_take_sms(phone: str | None) -> bool:
    """A mobile number (a French 06/07, or one of a plan that does not tell mobiles
    apart); a landline gets no SMS."""
    if not phone:
        return False
    try:
        number = phonenumbers.parse(phone, "FR")
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


async def compose_sms(
    ctx: BookingContext,
    tx: Connection,
    kind: str,
    booking: BookingRecord,
    join_url: str | None,
    manage_url: str | None,
) -> str:
    base = ctx.config.public_base_url
    join = await short_links.shorten(tx, booking.id, join_url, base) if join_url else None
    manage = await short_links.shorten(tx, booking.id, manage_url, base) if manage_url else None
    return sms_text.text(
        kind,
        booking.locale,
        organisation=booking.organisation_name,
        when=booking.start,
        join_url=join,
        manage_url=manage,
        book_url=f"{base}/book",
    )
