"""The outbox with a real SMTP server: one bad mail never holds back the others, and a
mail the server refuses for good is marked failed instead of retried for ever."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from booking_api.context import CONTEXT
from booking_api.outbox import enqueue_mail
from tests.booking.conftest import booking_body, first_free_slot


def _context(client: Any) -> Any:
    return client.app._subapps[0][CONTEXT]


async def _row(ctx: Any, mail_id: str) -> dict[str, Any]:
    row = await ctx.database.fetch_one(
        "SELECT sent_at, failed_at, attempts, last_error FROM outbox WHERE id = ?", mail_id
    )
    assert row is not None
    return dict(row)


async def _wait_row(ctx: Any, mail_id: str, column: str, within_s: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while True:
        row = await _row(ctx, mail_id)
        if row[column] is not None or time.monotonic() > deadline:
            return row
        await asyncio.sleep(0.1)


async def test_a_mail_that_smtplib_rejects_is_recorded_and_the_next_one_still_leaves(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    ctx = _context(client)
    async with ctx.database.transaction() as tx:
        # A line break in an address would smuggle in a second RCPT TO: refused with a
        # ValueError before any command is written (not an SMTP error).
        broken = await enqueue_mail(
            tx,
            kind="confirmation",
            booking_id=None,
            recipient="a@example.org\r\nRCPT TO:<b@example.org>",
            message="Subject: x\n\nbody",
        )
    slot = await first_free_slot(client)
    assert (await client.post("/api/bookings", json=booking_body(slot["start"]))).status == 201

    mails = await smtp_server.mailbox.wait_for(1, within_s=20)
    assert [m["To"] for m in mails] == ["jeanne@example.org"], [str(m) for m in mails]
    row = await _wait_row(ctx, broken, "last_error")
    assert row["sent_at"] is None
    assert row["attempts"] >= 1
    assert "ValueError" in row["last_error"]


async def test_a_permanent_refusal_marks_the_mail_failed_at_once(
    booking_client: Any, smtp_server: Any
) -> None:
    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("nobody@"):
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp_server.mailbox.handle_RCPT = refuse
    smtp_server.stop()
    smtp_server.start()
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    ctx = _context(client)
    async with ctx.database.transaction() as tx:
        refused = await enqueue_mail(
            tx,
            kind="confirmation",
            booking_id=None,
            recipient="nobody@example.org",
            message="From: a@example.org\nTo: nobody@example.org\nSubject: x\n\nbody",
        )
    row = await _wait_row(ctx, refused, "failed_at")
    assert row["failed_at"] is not None and row["sent_at"] is None
    assert row["attempts"] == 1
    assert "550" in row["last_error"]
    await asyncio.sleep(1.5)  # a retry would have come by now (base delay 1 s)
    assert (await _row(ctx, refused))["attempts"] == 1


async def test_a_mail_failing_max_attempts_times_is_marked_failed(
    booking_client: Any, smtp_server: Any
) -> None:
    smtp_server.stop()  # nothing listens: every try is a connection refused
    client = await booking_client(
        smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
        mail_max_attempts=2,
        mail_retry_base_s=0.1,
        mail_retry_max_s=0.1,
    )
    ctx = _context(client)
    async with ctx.database.transaction() as tx:
        mail_id = await enqueue_mail(
            tx,
            kind="confirmation",
            booking_id=None,
            recipient="a@example.org",
            message="Subject: x\n\nbody",
        )
    row = await _wait_row(ctx, mail_id, "failed_at")
    assert row["failed_at"] is not None and row["attempts"] == 2
