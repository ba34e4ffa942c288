"""Notices in English end to end, statistics by partner point, agent and week, and the
purge reaching survey comments and names left in the instant queue."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from booking_api import mail_text
from booking_api.context import CONTEXT
from booking_api.housekeeping import purge_personal_data, send_due_reminders
from booking_api.notifications import KINDS
from tests.booking.conftest import DEMO_MOTIF, booking_body
from tests.booking.test_availability import ADMIN, sign_in

PARTNER = {"email": "accueil@demo.visioguichet.fr", "password": "demo-partner-2026"}


def _token(url: str) -> str:
    return url.split("#token=", 1)[1]


def _calendar_part(mail: Any) -> str:
    for part in mail.walk():
        if part.get_content_type() == "text/calendar":
            return str(part.get_content())
    raise AssertionError("no calendar attachment")


async def test_english_booking_gets_every_notice_in_english(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    ctx = client.app._subapps[0][CONTEXT]
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    first, later = slots[-2], slots[-1]  # days ahead: a reminder is due the day before
    body = booking_body(first["start"]) | {"locale": "en"}
    booking = await (await client.post("/api/bookings", json=body)).json()
    token = _token(booking["manage_url"])
    moved = await client.post(f"/api/manage/{token}/reschedule", json={"start": later["start"]})
    assert moved.status == 200
    row = await ctx.database.fetch_one("SELECT start_at FROM bookings WHERE id = ?", booking["id"])
    assert await send_due_reminders(ctx, now=row["start_at"] - 20 * 3600) == 1
    assert (await client.post(f"/api/manage/{token}/cancel")).status == 200

    mails = await smtp_server.mailbox.wait_for(4)
    subjects = sorted(" ".join(str(m["Subject"]).split()) for m in mails)
    assert [s.split(" ")[0] for s in subjects] == ["Reminder:", "Your", "Your", "Your"]
    assert any("is confirmed" in s for s in subjects)
    assert any("is moved to" in s for s in subjects)
    assert any("is cancelled" in s for s in subjects)
    for mail in mails:
        text = mail.get_body(("plain",)).get_content()
        assert text.startswith("Hello Jeanne Dupont,"), text
        assert "Bonjour" not in text and "Cordialement" not in text
    cancelled = next(m for m in mails if "cancelled" in str(m["Subject"]))
    assert "METHOD:CANCEL" in _calendar_part(cancelled)


def test_every_notice_has_french_and_english_words() -> None:
    when = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    for kind in KINDS:
        french = mail_text.body(kind, "fr", name="Jeanne", organisation="CAF", motif="Droits",
                                when=when, duration_min=20, join_url="https://x/call",
                                manage_url="https://x/manage")  # fmt: skip
        english = mail_text.body(kind, "en", name="Jeanne", organisation="CAF", motif="Droits",
                                 when=when, duration_min=20, join_url="https://x/call",
                                 manage_url="https://x/manage")  # fmt: skip
        assert "mardi 24 novembre 2026 à 09:30" in french
        assert "Tuesday 24 November 2026 at 09:30 (Paris time)" in english
        assert french != english and "Bonjour" in french and "Hello" in english
        assert mail_text.subject(kind, "fr", when) != mail_text.subject(kind, "en", when)


async def test_statistics_by_partner_point_agent_and_week_with_labels(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    own, at_point = slots[-2], slots[-1]
    assert (await client.post("/api/bookings", json=booking_body(own["start"]))).status == 201
    partner = await sign_in(client, PARTNER)
    made = await client.post(
        "/api/partner/bookings",
        json={"motif_id": DEMO_MOTIF, "start": at_point["start"], "consent": True,
              "citizen": {"name": "Sans équipement"}},
        headers=partner,
    )  # fmt: skip
    assert made.status == 201
    await sign_in(client, ADMIN)
    first, last = own["start"][:10], at_point["start"][:10]

    async def rows(group_by: str) -> list[dict[str, Any]]:
        url = f"/api/stats?from={first}&to={last}&group_by={group_by}"
        response = await client.get(url)
        assert response.status == 200, await response.text()
        return list((await response.json())["rows"])

    by_point = {r["group"]: (r["label"], r["booked"]) for r in await rows("partner")}
    assert by_point == {
        "": ("", 1),
        "demo-france-services": ("France Services de démonstration", 1),
    }
    [agent] = await rows("agent")
    assert (agent["group"], agent["label"], agent["booked"]) == ("demo-agent", "Camille Martin", 2)
    weeks = await rows("week")
    assert sum(r["booked"] for r in weeks) == 2
    assert all(r["group"].startswith("20") and "-W" in r["group"] for r in weeks)
    expected_week = "{}-W{:02d}".format(*datetime.fromisoformat(own["start"]).isocalendar()[:2])
    assert expected_week in [r["group"] for r in weeks]

    exported = await client.get(f"/api/stats?from={first}&to={last}&group_by=agent&format=csv")
    [line] = list(csv.DictReader(io.StringIO(await exported.text())))
    assert line["label"] == "Camille Martin" and line["booked"] == "2"
    wrong = await client.get("/api/stats?group_by=day")
    assert wrong.status == 422 and "group_by" in (await wrong.json())["fields"]


async def test_purge_erases_survey_comments_and_names_left_in_the_queue(
    booking_client: Any,
) -> None:
    client = await booking_client(purge_after_days=30)
    ctx = client.app._subapps[0][CONTEXT]
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    booking = await (
        await client.post("/api/bookings", json=booking_body(slots[0]["start"]))
    ).json()
    answered = await client.post(
        f"/api/bookings/{booking['id']}/survey",
        json={"score": 4, "comment": "Merci à Camille, très claire."},
        headers={"Authorization": "Bearer " + _token(booking["join_url"])},
    )
    assert answered.status == 200 and (await answered.json())["comment"].startswith("Merci")
    too_long = await client.post(
        f"/api/bookings/{booking['id']}/survey",
        json={"score": 4, "comment": "x" * 1001},
        headers={"Authorization": "Bearer " + _token(booking["join_url"])},
    )
    assert too_long.status == 422 and "comment" in (await too_long.json())["fields"]
    asked = await client.post(
        "/api/queue", json={"motif_id": DEMO_MOTIF, "citizen": {"name": "Paul Pressé"}}
    )
    assert asked.status == 201

    row = await ctx.database.fetch_one("SELECT end_at FROM bookings WHERE id = ?", booking["id"])
    assert await purge_personal_data(ctx, now=row["end_at"] + 31 * 86400) == 1
    survey = await ctx.database.fetch_one(
        "SELECT score, comment FROM survey_answers WHERE booking_id = ?", booking["id"]
    )
    assert (survey["score"], survey["comment"]) == (4, None)
    names = await ctx.database.fetch_all("SELECT citizen_name FROM queue_requests")
    assert [n["citizen_name"] for n in names] == [None]


async def test_agent_cancels_for_the_service_and_the_citizen_is_told(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    booking = await (
        await client.post("/api/bookings", json=booking_body(slots[-1]["start"]))
    ).json()
    await smtp_server.mailbox.wait_for(1)
    csrf = await sign_in(
        client, {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}
    )
    url = f"/api/agent/bookings/{booking['id']}/cancel"
    cancelled = await client.post(url, headers=csrf)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    assert (await client.post(url, headers=csrf)).status == 409
    [_, notice] = await smtp_server.mailbox.wait_for(2)
    assert "annulé" in str(notice["Subject"])
    assert "METHOD:CANCEL" in _calendar_part(notice)
    free = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    assert slots[-1]["start"] in [s["start"] for s in free]


async def test_motif_needing_review_makes_a_request_an_agent_confirms(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    admin = await sign_in(client, ADMIN)
    flagged = await client.patch(
        f"/api/admin/motifs/{DEMO_MOTIF}", json={"needs_review": True}, headers=admin
    )
    assert flagged.status == 200
    client.session.cookie_jar.clear()
    slots = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    made = await client.post("/api/bookings", json=booking_body(slots[-1]["start"]))
    assert made.status == 201
    request = await made.json()
    assert request["status"] == "pending" and request["join_url"] is None
    free = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    assert slots[-1]["start"] not in [s["start"] for s in free]  # the slot is held
    view = await (await client.get(f"/api/manage/{_token(request['manage_url'])}")).json()
    assert view["can_cancel"] and view["join_url"] is None

    [received] = await smtp_server.mailbox.wait_for(1)
    assert "demande" in str(received["Subject"])
    text = received.get_body(("plain",)).get_content()
    assert request["manage_url"] in text and "/call#token=" not in text
    assert not any(p.get_content_type() == "text/calendar" for p in received.walk())

    agent = await sign_in(
        client, {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}
    )
    url = f"/api/agent/bookings/{request['id']}/confirm"
    confirmed = await client.post(url, headers=agent)
    assert confirmed.status == 200 and (await confirmed.json())["status"] == "booked"
    assert (await client.post(url, headers=agent)).status == 409
    [_, confirmation] = await smtp_server.mailbox.wait_for(2)
    assert "confirmé" in str(confirmation["Subject"])
    assert "/call#token=" in confirmation.get_body(("plain",)).get_content()
    assert "BEGIN:VEVENT" in _calendar_part(confirmation)

    # Staff booking the same motif need no review.
    staff = await client.post(
        "/api/agent/bookings", json=booking_body(slots[-2]["start"]), headers=agent
    )
    assert staff.status == 201 and (await staff.json())["status"] == "booked"
