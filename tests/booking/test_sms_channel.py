"""SMS as a channel: a citizen who gives only a mobile number gets the confirmation,
reminders and notices by SMS, through a real HTTP server standing in for the operator's
gateway, once each even when the gateway was down for a while."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from booking_api.context import CONTEXT
from booking_api.housekeeping import (
    purge_personal_data,
    send_due_reminders,
    send_due_soon_reminders,
)
from booking_api.short_links import CODE_LENGTH
from booking_api.sms_segments import sms_cost
from tests.booking.conftest import booking_body, first_free_slot, free_port

MOBILE = "06 12 34 56 78"
TEMPLATE = '{"message": {"to": ["{to}"], "body": "{text}", "from": "{sender}"}}'
TOKEN = "gateway-secret"


@dataclass
class SmsGateway:
    """An operator's SMS API on loopback: it records what it accepts."""

    port: int
    status: int = 201
    received: list[dict[str, Any]] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/send"

    async def _send(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "unauthorised"}, status=401)
        if self.status < 300:
            self.received.append(await request.json())
            self.keys.append(request.headers.get("Idempotency-Key", ""))
        return web.json_response({"id": len(self.received)}, status=self.status)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/sms/send", self._send)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def wait_for(self, count: int, within_s: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + within_s
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} SMS, got {self.received}")
            await asyncio.sleep(0.05)
        return self.received

    def texts(self) -> list[str]:
        return [r["message"]["body"] for r in self.received]


@pytest.fixture
async def sms_gateway() -> Any:
    gateway = SmsGateway(free_port())
    await gateway.start()
    yield gateway
    await gateway.stop()


def _context(client: Any) -> Any:
    return client.app._subapps[0][CONTEXT]


def _gateway_settings(gateway: SmsGateway) -> dict[str, Any]:
    return {
        "sms_gateway_url": gateway.url,
        "sms_gateway_token": TOKEN,
        "sms_sender": "MairieTest",
        "sms_body_template": TEMPLATE,
    }


def _short_code(text: str) -> str:
    marker = "http://127.0.0.1:8080/j/"
    start = text.index(marker) + len(marker)
    return text[start : start + CODE_LENGTH]


async def _book_by_phone(client: Any) -> dict[str, Any]:
    slot = await first_free_slot(client)
    body = booking_body(slot["start"], name="Paul Martin", phone=MOBILE)
    response = await client.post("/api/bookings", json=body)
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def test_a_phone_only_booking_gets_one_sms_whose_short_links_open_the_call_and_manage_pages(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway))
    booking = await _book_by_phone(client)
    [sms] = await sms_gateway.wait_for(1)
    assert sms["message"]["to"] == ["+33612345678"]
    assert sms["message"]["from"] == "MairieTest"
    text = sms["message"]["body"]
    assert "confirmé" in text and sms_cost(text).segments == 1, text
    join_code = _short_code(text)
    manage_code = _short_code(text.split("Gérer", 1)[1])
    assert join_code != manage_code

    opened = await client.get(f"/api/j/{join_code}", allow_redirects=False)
    assert opened.status == 303
    assert opened.headers["Location"].startswith("http://127.0.0.1:8080/call#token=")
    assert opened.headers["Cache-Control"] == "no-store"
    token = opened.headers["Location"].split("#token=", 1)[1]
    starts = datetime.fromisoformat(booking["start"]).timestamp()
    claims = _context(client).join_tokens.verifier.verify(token, now=starts)
    assert claims.room == booking["id"]
    managed = await client.get(f"/api/j/{manage_code}", allow_redirects=False)
    assert managed.headers["Location"] == booking["manage_url"]

    for guess in ("A" * CODE_LENGTH, join_code[:-1] + ("x" if join_code[-1] != "x" else "y")):
        assert (await client.get(f"/api/j/{guess}", allow_redirects=False)).status == 404
    # The database keeps neither the code nor the link in clear.
    rows = await _context(client).database.fetch_all("SELECT * FROM short_links")
    dumped = json.dumps([dict(r) for r in rows])
    assert join_code not in dumped and token not in dumped and "#token=" not in dumped

    await asyncio.sleep(1.0)  # a second pass of the outbox sends nothing more
    assert len(sms_gateway.received) == 1


async def test_gateway_down_then_up_delivers_the_sms_once(booking_client: Any) -> None:
    gateway = SmsGateway(free_port())  # not listening yet: connections are refused
    client = await booking_client(**_gateway_settings(gateway))
    booking = await _book_by_phone(client)
    ctx = _context(client)
    deadline = time.monotonic() + 10
    while True:
        row = await ctx.database.fetch_one(
            "SELECT attempts, last_error, sent_at FROM outbox WHERE booking_id = ?", booking["id"]
        )
        if row["attempts"] >= 2 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert row["attempts"] >= 2 and row["sent_at"] is None, dict(row)
    await gateway.start()
    try:
        await gateway.wait_for(1, within_s=15)
        await asyncio.sleep(3.0)  # longer than the retry delay: no second copy
        assert len(gateway.received) == 1
        assert len(set(gateway.keys)) == 1
        row = await ctx.database.fetch_one(
            "SELECT sent_at, failed_at, channel FROM outbox WHERE booking_id = ?", booking["id"]
        )
        assert row["sent_at"] is not None and row["failed_at"] is None
        assert row["channel"] == "sms"
    finally:
        await gateway.stop()


async def test_a_gateway_refusal_for_good_is_marked_failed_not_retried(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway) | {"sms_gateway_token": "bad"})
    booking = await _book_by_phone(client)
    ctx = _context(client)
    deadline = time.monotonic() + 10
    while True:
        row = await ctx.database.fetch_one(
            "SELECT attempts, failed_at, last_error FROM outbox WHERE booking_id = ?",
            booking["id"],
        )
        if row["failed_at"] is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert row["failed_at"] is not None and row["attempts"] == 1
    assert "401" in row["last_error"]


async def test_reminders_go_by_sms_the_day_before_and_shortly_before(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway), sms_reminder_before_min=30)
    booking = await _book_by_phone(client)
    await sms_gateway.wait_for(1)
    ctx = _context(client)
    db = ctx.database
    row = await db.fetch_one("SELECT start_at FROM bookings WHERE id = ?", booking["id"])
    start = row["start_at"]
    await db.execute(
        "UPDATE bookings SET created_at = ? WHERE id = ?", start - 7 * 86400, booking["id"]
    )
    day_before = start - 20 * 3600
    assert await send_due_reminders(ctx, now=day_before) == 1
    assert await send_due_reminders(ctx, now=day_before + 60) == 0
    assert await send_due_soon_reminders(ctx, now=day_before) == 0  # not yet
    assert await send_due_soon_reminders(ctx, now=start - 20 * 60) == 1
    assert await send_due_soon_reminders(ctx, now=start - 10 * 60) == 0
    await sms_gateway.wait_for(3)
    texts = sms_gateway.texts()
    assert "Rappel" in texts[1] and "commence" in texts[2], texts
    assert all(sms_cost(t).segments == 1 for t in texts), texts
    opened = await client.get(f"/api/j/{_short_code(texts[2])}", allow_redirects=False)
    assert opened.headers["Location"].startswith("http://127.0.0.1:8080/call#token=")


async def test_cancelling_by_the_manage_link_sends_the_notice_by_sms(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway))
    booking = await _book_by_phone(client)
    await sms_gateway.wait_for(1)
    token = booking["manage_url"].split("#token=", 1)[1]
    cancelled = await client.post(f"/api/manage/{token}/cancel")
    assert cancelled.status == 200, await cancelled.text()
    await sms_gateway.wait_for(2)
    texts = sms_gateway.texts()
    assert "annulé" in texts[1] and "http://127.0.0.1:8080/book" in texts[1], texts


async def test_a_landline_or_an_email_gets_no_sms(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway))
    slot = await first_free_slot(client)
    landline = booking_body(slot["start"], name="Paul Martin", phone="01 44 55 66 77")
    assert (await client.post("/api/bookings", json=landline)).status == 201
    both = booking_body(
        (await first_free_slot(client))["start"], name="Anne Roy", phone=MOBILE, email="a@b.fr"
    )
    assert (await client.post("/api/bookings", json=both)).status == 201
    await asyncio.sleep(1.0)
    assert sms_gateway.received == []


async def test_without_a_gateway_sms_land_as_files_in_the_outbox_folder(
    booking_client: Any, tmp_path: Path
) -> None:
    client = await booking_client()
    await _book_by_phone(client)
    outbox = tmp_path / "data" / "outbox"
    deadline = time.monotonic() + 10
    found: list[Path] = []
    while not found and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        found = list(outbox.glob("*.sms"))
    [sms] = found
    content = sms.read_text(encoding="utf-8")
    assert content.startswith("To: +33612345678\n\n") and "/j/" in content


async def test_short_links_are_forgotten_with_the_citizen(
    booking_client: Any, sms_gateway: SmsGateway
) -> None:
    client = await booking_client(**_gateway_settings(sms_gateway), purge_after_days=30)
    booking = await _book_by_phone(client)
    [sms] = await sms_gateway.wait_for(1)
    code = _short_code(sms["message"]["body"])
    assert (await client.get(f"/api/j/{code}", allow_redirects=False)).status == 303
    ctx = _context(client)
    row = await ctx.database.fetch_one("SELECT end_at FROM bookings WHERE id = ?", booking["id"])
    assert await purge_personal_data(ctx, now=row["end_at"] + 31 * 86400) == 1
    assert (await client.get(f"/api/j/{code}", allow_redirects=False)).status == 404
    assert await ctx.database.fetch_all("SELECT * FROM short_links") == []
