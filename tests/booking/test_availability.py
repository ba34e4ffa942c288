"""Agents' weekly rules and absences over the API, felt at once by the slot engine and the
instant queue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from booking_api.slots import PARIS, AgentCalendar, Interval, WeeklyRule, available_at
from tests.booking.conftest import DEMO_MOTIF, booking_body, first_free_slot

AGENT = {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}
ADMIN = {"email": "admin@demo.visioguichet.fr", "password": "demo-admin-2026"}
ALL_DAY = [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]


async def sign_in(client: Any, credentials: dict[str, str]) -> dict[str, str]:
    client.session.cookie_jar.clear()
    response = await client.post("/api/auth/login", json=credentials)
    assert response.status == 200, await response.text()
    return {"X-CSRF-Token": (await response.json())["csrf_token"]}


async def slot_starts(client: Any, day: str) -> list[str]:
    response = await client.get(f"/api/motifs/{DEMO_MOTIF}/slots?from={day}&to={day}")
    assert response.status == 200
    return [s["start"] for s in (await response.json())["slots"]]


async def test_absence_removes_slots_at_once_and_removing_it_brings_them_back(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    day = slot["start"][:10]
    assert slot["start"] in await slot_starts(client, day)
    csrf = await sign_in(client, AGENT)

    start = datetime.fromisoformat(slot["start"])
    absence = {
        "start": slot["start"],
        "end": (start + timedelta(hours=1)).isoformat(),
        "reason": "Formation",
    }
    added = await client.post("/api/agents/me/absences", json=absence, headers=csrf)
    assert added.status == 201, await added.text()
    created = await added.json()
    assert created["conflicts"] == [] and created["reason"] == "Formation"
    remaining = await slot_starts(client, day)
    assert slot["start"] not in remaining
    hidden = [
        s for s in remaining if start <= datetime.fromisoformat(s) < start + timedelta(hours=1)
    ]
    assert hidden == []

    view = await (await client.get("/api/agents/me/availability")).json()
    assert [a["id"] for a in view["absences"]] == [created["id"]]
    refused = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert refused.status == 422 and "start" in (await refused.json())["fields"]

    removed = await client.delete(f"/api/agents/me/absences/{created['id']}", headers=csrf)
    assert removed.status == 200
    assert slot["start"] in await slot_starts(client, day)
    gone = await client.delete(f"/api/agents/me/absences/{created['id']}", headers=csrf)
    assert gone.status == 404


async def test_weekly_rules_replace_the_timetable_the_slot_engine_uses(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    day = datetime.fromisoformat(slot["start"]).astimezone(PARIS).date()
    csrf = await sign_in(client, AGENT)
    rules = [{"weekday": day.weekday(), "start": "14:00", "end": "15:00"}]
    saved = await client.put("/api/agents/me/availability", json={"rules": rules}, headers=csrf)
    assert saved.status == 200, await saved.text()
    assert (await saved.json())["rules"] == rules

    next_week = (day + timedelta(days=7)).isoformat()
    starts = await slot_starts(client, next_week)
    local = [datetime.fromisoformat(s).astimezone(PARIS).strftime("%H:%M") for s in starts]
    assert local == ["14:00", "14:20", "14:40"]
    other_day = (day + timedelta(days=8)).isoformat()
    assert await slot_starts(client, other_day) == []

    await client.put("/api/agents/me/availability", json={"rules": []}, headers=csrf)
    assert await slot_starts(client, next_week) == []


async def test_bad_rules_and_absences_get_field_level_errors(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, AGENT)
    url = "/api/agents/me/availability"
    bad = {
        "rules": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "11:00", "end": "13:00"},
            {"weekday": 7, "start": "09:00", "end": "10:00"},
            {"weekday": 1, "start": "9h", "end": "10:00"},
            {"weekday": 2, "start": "10:00", "end": "09:00"},
            {"weekday": 3, "start": "10:02", "end": "11:00"},
        ]
    }
    response = await client.put(url, json=bad, headers=csrf)
    assert response.status == 422
    fields = (await response.json())["fields"]
    assert set(fields) == {
        "rules.1.start",
        "rules.2.weekday",
        "rules.3.start",
        "rules.4.end",
        "rules.5.start",
    }
    assert "chevauche" in fields["rules.1.start"]
    assert (await client.put(url, json={"rules": "lundi"}, headers=csrf)).status == 422
    # Nothing was saved by the refused requests.
    assert len((await (await client.get(url)).json())["rules"]) == 7

    absences = "/api/agents/me/absences"
    now = datetime.now(UTC)
    cases = [
        ({"end": now.isoformat()}, "start"),
        ({"start": "demain", "end": now.isoformat()}, "start"),
        ({"start": (now + timedelta(hours=2)).isoformat(), "end": now.isoformat()}, "end"),
        (
            {
                "start": (now - timedelta(days=3)).isoformat(),
                "end": (now - timedelta(days=2)).isoformat(),
            },
            "end",
        ),
        ({"start": now.isoformat(), "end": (now + timedelta(days=400)).isoformat()}, "end"),
        (
            {"start": now.isoformat(), "end": (now + timedelta(hours=1)).isoformat(), "reason": 5},
            "reason",
        ),
    ]
    for body, field in cases:
        refused = await client.post(absences, json=body, headers=csrf)
        assert refused.status == 422, body
        assert field in (await refused.json())["fields"], body
    no_csrf = await client.post(absences, json=cases[0][0])
    assert no_csrf.status == 403


async def test_absence_over_a_booked_appointment_names_it(booking_client: Any) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    booked = await (await client.post("/api/bookings", json=booking_body(slot["start"]))).json()
    csrf = await sign_in(client, ADMIN)
    start = datetime.fromisoformat(slot["start"])
    added = await client.post(
        f"/api/agents/{booked['agent']['id']}/absences",
        json={
            "start": (start - timedelta(hours=1)).isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(),
        },
        headers=csrf,
    )
    assert added.status == 201, await added.text()
    assert [c["id"] for c in (await added.json())["conflicts"]] == [booked["id"]]


def test_available_at_follows_paris_wall_time_and_absences() -> None:
    monday_rule = WeeklyRule(
        0, datetime.min.time().replace(hour=9), datetime.min.time().replace(hour=12)
    )
    calendar = AgentCalendar("a", [monday_rule])
    # Monday 30 March 2026 is the first Monday of summer time: 09:30 Paris = 07:30 UTC.
    assert available_at(calendar, datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert not available_at(calendar, datetime(2026, 3, 30, 10, 30, tzinfo=UTC))
    assert not available_at(calendar, datetime(2026, 3, 31, 7, 30, tzinfo=UTC))
    absent = AgentCalendar(
        "a",
        [monday_rule],
        absences=[
            Interval(datetime(2026, 3, 30, 7, tzinfo=UTC), datetime(2026, 3, 30, 8, tzinfo=UTC))
        ],
    )
    assert not available_at(absent, datetime(2026, 3, 30, 7, 30, tzinfo=UTC))
    assert available_at(absent, datetime(2026, 3, 30, 8, 30, tzinfo=UTC))


async def test_an_agent_cannot_change_a_colleagues_hours_but_the_administrator_can(
    booking_client: Any,
) -> None:
    client = await booking_client()
    admin = await sign_in(client, ADMIN)
    colleague = await client.post(
        "/api/admin/agents",
        json={"name": "Collègue", "email": "collegue@demo.example",
              "password": "mot-de-passe-solide", "service_id": "demo-caf-prestations"},
        headers=admin,
    )  # fmt: skip
    colleague_id = (await colleague.json())["id"]
    url = f"/api/agents/{colleague_id}/availability"
    by_admin = await client.put(url, json={"rules": ALL_DAY[:1]}, headers=admin)
    assert by_admin.status == 200 and len((await by_admin.json())["rules"]) == 1
    agent = await sign_in(client, AGENT)
    assert (await client.get(url)).status == 403
    refused = await client.put(url, json={"rules": []}, headers=agent)
    assert refused.status == 403
    assert (
        await client.post(f"/api/agents/{colleague_id}/absences", json={}, headers=agent)
    ).status == 403
    await sign_in(client, ADMIN)
    assert len((await (await client.get(url)).json())["rules"]) == 1
