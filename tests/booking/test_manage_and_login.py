"""The citizen's manage link (view, move, cancel, with notices) and staff login limits."""

from __future__ import annotations

from typing import Any

from tests.booking.conftest import DEMO_MOTIF, booking_body, first_free_slot


def _manage_token(booking: dict[str, Any]) -> str:
    return str(booking["manage_url"].split("#token=", 1)[1])


async def test_manage_link_moves_then_cancels_and_each_change_is_mailed(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    booking = await (
        await client.post("/api/bookings", json=booking_body(slots[0]["start"]))
    ).json()
    token = _manage_token(booking)

    view = await (await client.get(f"/api/manage/{token}")).json()
    assert view["id"] == booking["id"] and view["can_cancel"] and view["join_url"]

    moved = await client.post(f"/api/manage/{token}/reschedule", json={"start": slots[1]["start"]})
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["start"] == slots[1]["start"]
    free = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    assert slots[0]["start"] in [s["start"] for s in free]
    assert slots[1]["start"] not in [s["start"] for s in free]

    cancelled = await client.post(f"/api/manage/{token}/cancel")
    assert (await cancelled.json())["status"] == "cancelled"
    again = await client.post(f"/api/manage/{token}/cancel")
    assert again.status == 409
    free = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    assert slots[1]["start"] in [s["start"] for s in free]

    mails = await smtp_server.mailbox.wait_for(3)
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert any("confirmé" in s for s in subjects)
    assert any("déplacé" in s for s in subjects)
    assert any("annulé" in s for s in subjects)


async def test_english_confirmation_when_asked(booking_client: Any, smtp_server: Any) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    body = booking_body(slot["start"]) | {"locale": "en"}
    assert (await client.post("/api/bookings", json=body)).status == 201
    [mail] = await smtp_server.mailbox.wait_for(1)
    assert "confirmed" in str(mail["Subject"])


async def test_repeated_failed_logins_are_rate_limited(booking_client: Any) -> None:
    client = await booking_client(login_max_failures=3)
    credentials = {"email": "agent@demo.visioguichet.fr", "password": "wrong-password"}
    statuses = [(await client.post("/api/auth/login", json=credentials)).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
    right = {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}
    assert (await client.post("/api/auth/login", json=right)).status == 429


async def test_mail_without_smtp_lands_in_the_outbox_folder(
    booking_client: Any, tmp_path: Any
) -> None:
    import asyncio
    import time

    client = await booking_client()
    slot = await first_free_slot(client)
    assert (await client.post("/api/bookings", json=booking_body(slot["start"]))).status == 201
    outbox = tmp_path / "data" / "outbox"
    deadline = time.monotonic() + 15
    while not list(outbox.glob("*.eml")):
        assert time.monotonic() < deadline, "no .eml written"
        await asyncio.sleep(0.1)
    [eml] = list(outbox.glob("*.eml"))
    assert "BEGIN:VCALENDAR" in eml.read_text() or "text/calendar" in eml.read_text()
