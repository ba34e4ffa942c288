"""Booking through the HTTP API: one winner per slot, a real confirmation mail."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.booking.conftest import DEMO_MOTIF, booking_body, first_free_slot
from visioguichet.join_token import JoinTokenSigner


async def test_second_booking_of_same_slot_gets_409(booking_client: Any) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    first = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert first.status == 201, await first.text()
    body = await first.json()
    assert body["status"] == "booked" and body["start"] == slot["start"]
    assert body["join_url"].startswith("http://127.0.0.1:8080/call#token=")
    assert body["manage_url"].startswith("http://127.0.0.1:8080/manage#token=")
    second = await client.post(
        "/api/bookings", json=booking_body(slot["start"], name="Paul", email="paul@example.org")
    )
    assert second.status == 409
    assert (await second.json())["error"] == "slot-taken"
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    assert slot["start"] not in [s["start"] for s in slots]


def _unfold(ics: str) -> list[str]:
    return ics.replace("\r\n ", "").replace("\r\n", "\n").strip().split("\n")


async def test_confirmation_mail_reaches_smtp_with_ics_and_valid_join_link(
    booking_client: Any, smtp_server: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    response = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert response.status == 201
    booking = await response.json()
    [mail] = await smtp_server.mailbox.wait_for(1)
    assert mail["To"] == "jeanne@example.org"
    assert "confirmé" in mail["Subject"]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    join_links = re.findall(r"http://127\.0\.0\.1:8080/call#token=(\S+)", text)
    assert len(join_links) == 1
    assert booking["manage_url"] in text

    at_start = datetime.fromisoformat(booking["start"]).timestamp()
    grant = signer.verifier.verify(join_links[0], now=at_start)
    assert grant.room == booking["id"]
    assert grant.role == "guest" and grant.lobby is True

    [attachment] = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    lines = _unfold(attachment.get_content())
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    fields = dict(line.split(":", 1) for line in lines if ":" in line)
    assert lines.count("BEGIN:VEVENT") == 1 and lines.count("END:VEVENT") == 1
    start = datetime.strptime(fields["DTSTART"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert start == datetime.fromisoformat(booking["start"])
    assert fields["UID"].startswith(booking["id"])


async def test_agent_sees_booking_in_agenda_joins_as_host_and_marks_done(
    booking_client: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()

    login = await client.post(
        "/api/auth/login",
        json={"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"},
    )
    assert login.status == 200
    session = await login.json()
    csrf = {"X-CSRF-Token": session["csrf_token"]}
    assert session["user"]["role"] == "agent"

    day = slot["start"][:10]
    agenda = await (await client.get(f"/api/agent/agenda?date={day}")).json()
    assert booking["id"] in [b["id"] for b in agenda["bookings"]]

    refused = await client.post(f"/api/agent/bookings/{booking['id']}/join")
    assert refused.status == 403 and (await refused.json())["error"] == "csrf"
    joined = await (
        await client.post(f"/api/agent/bookings/{booking['id']}/join", headers=csrf)
    ).json()
    grant = signer.verifier.verify(
        joined["token"], now=datetime.fromisoformat(booking["start"]).timestamp()
    )
    assert grant.room == booking["id"] and grant.role == "host"

    done = await client.post(
        f"/api/agent/bookings/{booking['id']}/outcome", json={"status": "done"}, headers=csrf
    )
    assert done.status == 200 and (await done.json())["status"] == "done"


async def test_wrong_password_is_refused(booking_client: Any) -> None:
    client = await booking_client()
    response = await client.post(
        "/api/auth/login", json={"email": "agent@demo.visioguichet.fr", "password": "nope"}
    )
    assert response.status == 401
    assert (await client.get("/api/auth/me")).status == 401
