"""A third person in the call: a companion the citizen names when booking gets a join
link of their own by mail (or SMS), an agent invites an interpreter or a relative from
the agenda; each link is a guest's, named, through the lobby, and follows its booking."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from booking_api.context import CONTEXT
from booking_api.housekeeping import purge_personal_data
from tests.booking.conftest import bookable_slots, booking_body, first_free_slot
from tests.booking.test_availability import AGENT, sign_in
from visioguichet.join_token import JoinTokenSigner

COMPANION = {"name": "Paul Martin", "email": "paul@example.org"}


def _token(url: str) -> str:
    return url.split("#token=", 1)[1]


def _grant(signer: JoinTokenSigner, url: str, start: str) -> Any:
    return signer.verifier.verify(_token(url), now=datetime.fromisoformat(start).timestamp())


def _links_in(mail: Any) -> list[str]:
    body = mail.get_body(preferencelist=("plain",)).get_content()
    return [word for word in body.split() if "/call#token=" in word]


async def test_a_companion_named_at_booking_gets_a_link_of_their_own(
    booking_client: Any, smtp_server: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    body = booking_body(slot["start"]) | {"companion": COMPANION}
    response = await client.post("/api/bookings", json=body)
    assert response.status == 201, await response.text()
    booking = await response.json()

    mails = await smtp_server.mailbox.wait_for(2)
    to_companion = next(m for m in mails if m["To"] == "paul@example.org")
    assert "Paul Martin" in to_companion.get_body(preferencelist=("plain",)).get_content()
    (companion_link,) = _links_in(to_companion)
    assert companion_link != booking["join_url"]
    grant = _grant(signer, companion_link, slot["start"])
    assert (grant.role, grant.name, grant.room, grant.lobby) == (
        "guest",
        "Paul Martin",
        booking["id"],
        True,
    )
    assert grant.subject != _grant(signer, booking["join_url"], slot["start"]).subject
    # the citizen's manage link is the citizen's alone
    assert "/manage#token=" not in to_companion.get_body(preferencelist=("plain",)).get_content()


async def test_a_companion_with_a_mobile_number_only_gets_an_sms(booking_client: Any) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    companion = {"name": "Paul Martin", "phone": "06 12 34 56 78"}
    response = await client.post(
        "/api/bookings", json=booking_body(slot["start"]) | {"companion": companion}
    )
    assert response.status == 201, await response.text()
    ctx = client.app._subapps[0][CONTEXT]
    rows = await ctx.database.fetch_all(
        "SELECT recipient, channel FROM outbox WHERE booking_id = ? ORDER BY created_ns",
        (await response.json())["id"],
    )
    assert [(r["recipient"], r["channel"]) for r in rows] == [
        ("jeanne@example.org", "email"),
        ("+33612345678", "sms"),
    ]


async def test_a_companion_needs_a_way_to_be_reached(booking_client: Any) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    for companion, field in (
        ({"name": "Paul Martin"}, "companion.email"),
        ({"name": "", "email": "paul@example.org"}, "companion.name"),
        ({"name": "Paul", "phone": "12"}, "companion.phone"),
        ("Paul", "companion"),
    ):
        response = await client.post(
            "/api/bookings", json=booking_body(slot["start"]) | {"companion": companion}
        )
        assert response.status == 422, companion
        assert field in (await response.json())["fields"], (companion, await response.text())


async def test_an_agent_invites_an_interpreter_from_the_agenda(
    booking_client: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    body = booking_body(slot["start"]) | {"companion": COMPANION}
    booking = await (await client.post("/api/bookings", json=body)).json()
    url = f"/api/agent/bookings/{booking['id']}/guests"
    assert (await client.post(url, json={"name": "Interprète"})).status == 401

    csrf = await sign_in(client, AGENT)
    bad = await client.post(url, json={"name": "Léa", "kind": "boss"}, headers=csrf)
    assert bad.status == 422 and "kind" in (await bad.json())["fields"]
    bad = await client.post(url, json={"name": "<b>x</b>"}, headers=csrf)
    assert bad.status == 422 and "name" in (await bad.json())["fields"]

    invited = await client.post(url, json={"name": "Léa Roux", "kind": "interpreter"}, headers=csrf)
    assert invited.status == 201, await invited.text()
    answer = await invited.json()
    assert answer["guest"]["kind"] == "interpreter"
    grant = _grant(signer, answer["url"], slot["start"])
    assert (grant.role, grant.name, grant.lobby) == ("guest", "Léa Roux", True)
    listed = await (await client.get(url)).json()
    assert [(g["kind"], g["name"]) for g in listed["guests"]] == [
        ("companion", "Paul Martin"),
        ("interpreter", "Léa Roux"),
    ]

    cancelled = await client.post(f"/api/agent/bookings/{booking['id']}/cancel", headers=csrf)
    assert cancelled.status == 200
    refused = await client.post(url, json={"name": "Léa Roux"}, headers=csrf)
    assert refused.status == 409 and (await refused.json())["error"] == "booking-cancelled"


async def test_guests_are_purged_with_the_citizen(booking_client: Any) -> None:
    client = await booking_client(purge_after_days=30)
    slot = await first_free_slot(client)
    body = booking_body(slot["start"]) | {"companion": COMPANION}
    booking = await (await client.post("/api/bookings", json=body)).json()
    ctx = client.app._subapps[0][CONTEXT]
    row = await ctx.database.fetch_one("SELECT end_at FROM bookings WHERE id = ?", booking["id"])
    assert await purge_personal_data(ctx, now=row["end_at"] + 31 * 86400) == 1
    left = await ctx.database.fetch_all(
        "SELECT id FROM call_guests WHERE booking_id = ?", booking["id"]
    )
    assert left == []


async def test_a_companion_is_told_of_a_move_with_a_link_for_the_new_time(
    booking_client: Any, smtp_server: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slots = await bookable_slots(client)
    body = booking_body(slots[0]["start"]) | {"companion": COMPANION}
    booking = await (await client.post("/api/bookings", json=body)).json()
    token = booking["manage_url"].split("#token=")[1]
    await smtp_server.mailbox.wait_for(2)
    moved = await client.post(f"/api/manage/{token}/reschedule", json={"start": slots[1]["start"]})
    assert moved.status == 200, await moved.text()
    mails = await smtp_server.mailbox.wait_for(4)
    to_companion = [m for m in mails if m["To"] == "paul@example.org"]
    assert len(to_companion) == 2 and "déplacé" in str(to_companion[1]["Subject"])
    (link,) = _links_in(to_companion[1])
    grant = _grant(signer, link, slots[1]["start"])
    new_start = datetime.fromisoformat(slots[1]["start"]).timestamp()
    assert grant.not_before == new_start - 15 * 60 and grant.name == "Paul Martin"

    assert (await client.post(f"/api/manage/{token}/cancel")).status == 200
    mails = await smtp_server.mailbox.wait_for(6)
    assert "annulé" in str([m for m in mails if m["To"] == "paul@example.org"][-1]["Subject"])


async def test_an_invited_person_shares_documents_but_does_not_answer_the_citizens_survey(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    booking = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    csrf = await sign_in(client, AGENT)
    url = f"/api/agent/bookings/{booking['id']}/guests"
    invited = await client.post(url, json={"name": "Léa Roux", "kind": "relative"}, headers=csrf)
    assert invited.status == 201, await invited.text()
    client.session.cookie_jar.clear()  # from here on, only the links speak
    survey = f"/api/bookings/{booking['id']}/survey"

    def bearer(link: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + _token(link)}

    guest = bearer((await invited.json())["url"])
    refused = await client.post(survey, json={"score": 1}, headers=guest)
    assert refused.status == 403, await refused.text()
    files = await client.get(f"/api/bookings/{booking['id']}/files", headers=guest)
    assert files.status == 200, await files.text()
    answered = await client.post(survey, json={"score": 5}, headers=bearer(booking["join_url"]))
    assert answered.status == 200, await answered.text()
