"""Documents and survey for call participants; reminders; forgetting citizens in time."""

from __future__ import annotations

from typing import Any

import aiohttp

from booking_api.context import CONTEXT
from booking_api.housekeeping import purge_personal_data, send_due_reminders
from tests.booking.conftest import booking_body, first_free_slot

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _bearer(url: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + url.split("#token=", 1)[1]}


def _form(data: bytes, name: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


def _booking_context(client: Any) -> Any:
    return client.app._subapps[0][CONTEXT]


async def test_call_participants_exchange_documents_checked_by_content(booking_client: Any) -> None:
    client = await booking_client(upload_max_bytes=1024)
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    files_url = f"/api/bookings/{booking['id']}/files"
    citizen = _bearer(booking["join_url"])

    stored = await client.post(files_url, data=_form(PDF, "avis.pdf"), headers=citizen)
    assert stored.status == 201
    described = await stored.json()
    assert described["content_type"] == "application/pdf"

    fake = await client.post(
        files_url, data=_form(b"MZ\x90\x00 not a pdf", "x.pdf"), headers=citizen
    )
    assert fake.status == 422 and "PDF" in (await fake.json())["fields"]["file"]
    big = await client.post(files_url, data=_form(PDF + b"0" * 2048, "big.pdf"), headers=citizen)
    assert big.status == 413
    stranger = await client.post(
        files_url, data=_form(PDF, "a.pdf"), headers={"Authorization": "Bearer forged"}
    )
    assert stranger.status == 401
    assert (await client.get(files_url)).status == 401

    by_manage_link = _bearer(booking["manage_url"])
    listing = await (await client.get(files_url, headers=by_manage_link)).json()
    assert [f["name"] for f in listing["files"]] == ["avis.pdf"]
    download = await client.get(f"{files_url}/{described['id']}", headers=citizen)
    assert download.status == 200 and await download.read() == PDF


async def test_citizen_answers_survey_with_join_token_and_score_is_checked(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    url = f"/api/bookings/{booking['id']}/survey"
    headers = _bearer(booking["join_url"])
    assert (await client.post(url, json={"score": 9}, headers=headers)).status == 422
    answered = await client.post(url, json={"score": 4}, headers=headers)
    assert answered.status == 200 and (await answered.json())["score"] == 4


async def test_reminder_goes_out_once_the_day_before(booking_client: Any, smtp_server: Any) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    await smtp_server.mailbox.wait_for(1)
    ctx = _booking_context(client)
    db = ctx.database
    row = await db.fetch_one("SELECT start_at FROM bookings WHERE id = ?", booking["id"])
    # Pretend it was booked a week ahead and that the appointment is tomorrow.
    await db.execute(
        "UPDATE bookings SET created_at = ? WHERE id = ?",
        row["start_at"] - 7 * 86400,
        booking["id"],
    )
    day_before = row["start_at"] - 20 * 3600
    assert await send_due_reminders(ctx, now=day_before) == 1
    assert await send_due_reminders(ctx, now=day_before + 60) == 0
    mails = await smtp_server.mailbox.wait_for(2)
    assert any("Rappel" in str(m["Subject"]) for m in mails)


async def test_purge_forgets_the_citizen_but_keeps_the_booking_for_statistics(
    booking_client: Any,
) -> None:
    client = await booking_client(purge_after_days=30)
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    ctx = _booking_context(client)
    row = await ctx.database.fetch_one("SELECT end_at FROM bookings WHERE id = ?", booking["id"])
    assert await purge_personal_data(ctx, now=row["end_at"] + 29 * 86400) == 0
    assert await purge_personal_data(ctx, now=row["end_at"] + 31 * 86400) == 1
    kept = await ctx.database.fetch_one(
        "SELECT citizen_name, citizen_email, motif_id, status FROM bookings WHERE id = ?",
        booking["id"],
    )
    assert kept["citizen_name"] is None and kept["citizen_email"] is None
    assert kept["motif_id"] == "demo-motif-info" and kept["status"] == "booked"
    outbox = await ctx.database.fetch_all(
        "SELECT id FROM outbox WHERE booking_id = ?", booking["id"]
    )
    assert outbox == []
