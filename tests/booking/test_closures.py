"""Closed days: public holidays of the organisation's calendar and its own closure days
take every agent of the organisation off the slot engine and the instant queue."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from booking_api.public_holidays import public_holidays
from booking_api.slots import (
    PARIS,
    AgentCalendar,
    MotifTiming,
    WeeklyRule,
    available_at,
    free_slots,
    local_instant,
)
from tests.booking.conftest import (
    DEMO_MOTIF,
    booking_body,
    free_slot_and_a_later_one_that_day,
)
from tests.booking.test_availability import ADMIN, AGENT, sign_in, slot_starts

THIRTY = MotifTiming(duration=timedelta(minutes=30), horizon=timedelta(days=400))
NEW_YEAR_2027 = datetime(2027, 1, 1, tzinfo=UTC)
DEMO_SERVICE = "demo-caf-prestations"


def _open_every_day(closed: frozenset[date]) -> AgentCalendar:
    rules = [WeeklyRule(d, time(9), time(10)) for d in range(7)]
    return AgentCalendar("a1", rules, closed_days=closed)


def _days_with_slots(agent: AgentCalendar, first: date, last: date) -> list[date]:
    slots = free_slots(THIRTY, [agent], first, last, NEW_YEAR_2027)
    return sorted({s.start.astimezone(PARIS).date() for s in slots})


def test_slot_engine_skips_14_july_and_easter_monday_2027_of_the_french_calendar() -> None:
    closed = frozenset(public_holidays("FR", date(2027, 1, 1), date(2027, 12, 31)))
    agent = _open_every_day(closed)
    assert _days_with_slots(agent, date(2027, 3, 28), date(2027, 3, 30)) == [
        date(2027, 3, 28),
        date(2027, 3, 30),
    ]
    assert _days_with_slots(agent, date(2027, 7, 13), date(2027, 7, 15)) == [
        date(2027, 7, 13),
        date(2027, 7, 15),
    ]
    assert not available_at(agent, local_instant(date(2027, 7, 14), time(9, 30)))
    assert available_at(agent, local_instant(date(2027, 7, 15), time(9, 30)))


def test_french_calendar_has_the_eleven_holidays_and_alsace_moselle_two_more() -> None:
    france = public_holidays("FR", date(2027, 1, 1), date(2027, 12, 31))
    assert sorted(france) == [
        date(2027, 1, 1), date(2027, 3, 29), date(2027, 5, 1), date(2027, 5, 6),
        date(2027, 5, 8), date(2027, 5, 17), date(2027, 7, 14), date(2027, 8, 15),
        date(2027, 11, 1), date(2027, 11, 11), date(2027, 12, 25),
    ]  # fmt: skip
    alsace_moselle = public_holidays("FR-AM", date(2027, 1, 1), date(2027, 12, 31))
    assert sorted(set(alsace_moselle) - set(france)) == [date(2027, 3, 26), date(2027, 12, 26)]
    assert public_holidays("none", date(2027, 1, 1), date(2027, 12, 31)) == {}


def _fixed_holiday_within(today: date, horizon_days: int) -> date:
    """The next 14 July whose neighbours are bookable, else the next 11 November."""
    for month, day in ((7, 14), (11, 11)):
        for year in (today.year, today.year + 1):
            holiday = date(year, month, day)
            if today + timedelta(days=2) <= holiday <= today + timedelta(days=horizon_days - 2):
                return holiday
    raise AssertionError("one of them is always within the year")


async def test_public_holidays_of_the_chosen_calendar_offer_no_slot(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    motif = await client.post(
        f"/api/admin/services/{DEMO_SERVICE}/motifs",
        json={"label": "Motif à un an", "duration_min": 30, "channels": ["video"],
              "horizon_days": 365},
        headers=csrf,
    )  # fmt: skip
    assert motif.status == 201, await motif.text()
    motif_id = (await motif.json())["id"]
    today = datetime.now(PARIS).date()
    holiday = _fixed_holiday_within(today, 365)
    around = f"from={holiday - timedelta(days=1)}&to={holiday + timedelta(days=1)}"

    async def days_offered() -> set[date]:
        response = await client.get(f"/api/motifs/{motif_id}/slots?{around}")
        assert response.status == 200
        slots = (await response.json())["slots"]
        return {datetime.fromisoformat(s["start"]).date() for s in slots}

    # The demonstration organisation is open every day; France closes it on holidays.
    assert holiday in await days_offered()
    chosen = await client.put(
        "/api/admin/closures/calendar", json={"holiday_calendar": "FR"}, headers=csrf
    )
    assert chosen.status == 200, await chosen.text()
    assert await days_offered() == {holiday - timedelta(days=1), holiday + timedelta(days=1)}
    view = await chosen.json()
    assert view["holiday_calendar"] == "FR"
    assert holiday.isoformat() in [h["date"] for h in view["public_holidays"]]

    # Alsace-Moselle: Good Friday and 26 December on top.
    france = {h["date"]: h["label"] for h in view["public_holidays"]}
    local = await client.put(
        "/api/admin/closures/calendar", json={"holiday_calendar": "FR-AM"}, headers=csrf
    )
    assert local.status == 200
    alsace_moselle = {h["date"]: h["label"] for h in (await local.json())["public_holidays"]}
    extra = {d: label for d, label in alsace_moselle.items() if d not in france}
    shown_until = date.fromisoformat(max(alsace_moselle))
    assert extra, "26 December is always within the coming year"
    for day, label in extra.items():
        if label == "Saint-Étienne":
            assert day[5:] == "12-26"
        else:
            assert label == "Vendredi saint" and date.fromisoformat(day).weekday() == 4
    # Good Friday is listed unless the next one is beyond the days shown (late March).
    next_good_friday = min(
        d for d, name in public_holidays("FR-AM", today, today + timedelta(days=400)).items()
        if name == "Vendredi saint"
    )  # fmt: skip
    assert ("Vendredi saint" in extra.values()) == (next_good_friday <= shown_until)


async def test_closure_day_takes_every_agent_off_that_day_and_lists_its_bookings(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot, later = await free_slot_and_a_later_one_that_day(client)
    day = datetime.fromisoformat(slot["start"]).astimezone(PARIS).date()
    booked = await client.post(
        "/api/bookings", json=booking_body(slot["start"], name="Paul Girard",
                                           email="paul@example.org", phone="0601020304")
    )  # fmt: skip
    assert booked.status == 201
    booking_id = (await booked.json())["id"]
    assert await slot_starts(client, day.isoformat())

    csrf = await sign_in(client, ADMIN)
    added = await client.post(
        "/api/admin/closures/days", json={"date": day.isoformat(), "label": "Pont"}, headers=csrf
    )
    assert added.status == 201, await added.text()
    created = await added.json()
    assert created["date"] == day.isoformat() and created["label"] == "Pont"
    [conflict] = created["conflicts"]
    assert conflict["id"] == booking_id and conflict["start"] == slot["start"]
    assert conflict["citizen"] == {
        "name": "Paul Girard", "email": "paul@example.org", "phone": "+33601020304"
    }  # fmt: skip
    assert await slot_starts(client, day.isoformat()) == []
    refused = await client.post("/api/bookings", json=booking_body(later))
    assert refused.status == 422
    assert "fermé" in (await refused.json())["fields"]["start"]
    view = await (await client.get("/api/admin/closures")).json()
    assert {"date": day.isoformat(), "label": "Pont"} in view["closure_days"]

    # Nor can the agent be reached at once that day (instant queue).
    await sign_in(client, AGENT)
    availability = await (await client.get("/api/agents/me/availability")).json()
    if day == datetime.now(PARIS).date():
        assert availability["available_now"] is False

    csrf = await sign_in(client, ADMIN)
    removed = await client.delete(f"/api/admin/closures/days/{day.isoformat()}", headers=csrf)
    assert removed.status == 200
    assert await slot_starts(client, day.isoformat())
    again = await client.delete(f"/api/admin/closures/days/{day.isoformat()}", headers=csrf)
    assert again.status == 404


async def test_bad_closure_input_gets_a_field_message(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    today = datetime.now(PARIS).date()
    coming = (today + timedelta(days=3)).isoformat()

    async def post(body: Any) -> tuple[int, dict[str, Any]]:
        response = await client.post("/api/admin/closures/days", json=body, headers=csrf)
        return response.status, await response.json()

    for body, field in (
        ({"date": "2027-02-30", "label": "Grève"}, "date"),
        ({"date": "07/05/2027", "label": "Grève"}, "date"),
        ({"date": (today - timedelta(days=1)).isoformat(), "label": "Grève"}, "date"),
        ({"date": (today + timedelta(days=800)).isoformat(), "label": "Grève"}, "date"),
        ({"date": coming, "label": "   "}, "label"),
        ({"date": coming}, "label"),
        ({"date": coming, "label": "x" * 201}, "label"),
        ({"date": coming, "label": "\u0083Pont"}, "label"),  # a C1 control
        ({"date": coming, "label": "Pont\nATTENTION"}, "label"),
        ({"date": coming, "label": "Pont \u202eetèrg"}, "label"),
    ):
        status, answer = await post(body)
        assert status == 422, body
        assert field in answer["fields"], (body, answer)

    assert (await post({"date": coming, "label": "Grève"}))[0] == 201
    status, answer = await post({"date": coming, "label": "Grève encore"})
    assert status == 409 and "date" in answer["fields"]

    wrong = await client.put(
        "/api/admin/closures/calendar", json={"holiday_calendar": "DE"}, headers=csrf
    )
    assert wrong.status == 422 and "holiday_calendar" in (await wrong.json())["fields"]
    not_json = await client.post("/api/admin/closures/days", data="date=", headers=csrf)
    assert not_json.status == 400
    bad_path = await client.delete("/api/admin/closures/days/demain", headers=csrf)
    assert bad_path.status == 422 and "date" in (await bad_path.json())["fields"]
    slots = await client.get(f"/api/motifs/{DEMO_MOTIF}/slots?from={coming}&to={coming}")
    assert (await slots.json())["slots"] == []
