"""Dates far from today (year 1, year 9999, a century away) get a 400 naming the field
at every endpoint that reads a date or a date-time, never a 500 from date arithmetic."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from booking_api.date_window import FUTURE_YEARS, PAST_YEARS
from booking_api.slots import PARIS
from tests.booking.conftest import DEMO_MOTIF, first_free_slot
from tests.booking.test_availability import AGENT, sign_in
from tests.booking.test_staff_reschedule import PARTNER

FAR_DAYS = ["0001-01-01", "9999-12-31", "1900-01-01", "2200-06-15"]
FAR_INSTANTS = [
    "0001-01-01T00:00:00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31",
    "1900-01-01T09:00:00+01:00",
    "2200-06-15T09:00:00+02:00",
]


@dataclass(frozen=True)
class Endpoint:
    """One way a date reaches the service: who calls, how, and the field that carries it."""

    role: str  # "citizen", "agent" or "partner"
    method: str
    path: str  # {booking_id} and {token} are those of a booking made beforehand
    field: str
    values: list[str]
    request: Callable[[str], dict[str, Any]]  # the value -> query or JSON body


def _query(name: str, **others: str) -> Callable[[str], dict[str, Any]]:
    return lambda value: {"params": {**others, name: value}}


def _json(name: str, **others: Any) -> Callable[[str], dict[str, Any]]:
    return lambda value: {"json": {**others, name: value}}


_TODAY = datetime.now(PARIS).date().isoformat()
_SOON = (datetime.now(PARIS) + timedelta(days=1)).replace(hour=9, minute=0, second=0)
_CITIZEN = {"name": "Jeanne Dupont", "email": "jeanne@example.org"}

ENDPOINTS = {
    "slots-from": Endpoint(
        "citizen", "GET", f"/api/motifs/{DEMO_MOTIF}/slots", "from", FAR_DAYS, _query("from")
    ),
    "slots-to": Endpoint(
        "citizen",
        "GET",
        f"/api/motifs/{DEMO_MOTIF}/slots",
        "to",
        FAR_DAYS,
        _query("to", **{"from": _TODAY}),
    ),
    "book": Endpoint(
        "citizen",
        "POST",
        "/api/bookings",
        "start",
        FAR_INSTANTS,
        _json("start", motif_id=DEMO_MOTIF, citizen=_CITIZEN),
    ),
    "manage-reschedule": Endpoint(
        "citizen", "POST", "/api/manage/{token}/reschedule", "start", FAR_INSTANTS, _json("start")
    ),
    "agent-book": Endpoint(
        "agent",
        "POST",
        "/api/agent/bookings",
        "start",
        FAR_INSTANTS,
        _json("start", motif_id=DEMO_MOTIF, citizen=_CITIZEN),
    ),
    "partner-book": Endpoint(
        "partner",
        "POST",
        "/api/partner/bookings",
        "start",
        FAR_INSTANTS,
        _json("start", motif_id=DEMO_MOTIF, citizen=_CITIZEN, consent=True),
    ),
    "agent-reschedule": Endpoint(
        "agent",
        "POST",
        "/api/agent/bookings/{booking_id}/reschedule",
        "start",
        FAR_INSTANTS,
        _json("start"),
    ),
    "partner-reschedule": Endpoint(
        "partner",
        "POST",
        "/api/partner/bookings/{booking_id}/reschedule",
        "start",
        FAR_INSTANTS,
        _json("start"),
    ),
    "absence-start": Endpoint(
        "agent",
        "POST",
        "/api/agents/me/absences",
        "start",
        FAR_INSTANTS,
        _json("start", end=_SOON.isoformat(), reason="Formation"),
    ),
    "absence-end": Endpoint(
        "agent",
        "POST",
        "/api/agents/me/absences",
        "end",
        FAR_INSTANTS,
        _json("end", start=_SOON.isoformat(), reason="Formation"),
    ),
    "agent-agenda": Endpoint("agent", "GET", "/api/agent/agenda", "date", FAR_DAYS, _query("date")),
    "partner-day": Endpoint(
        "partner", "GET", "/api/partner/bookings", "date", FAR_DAYS, _query("date")
    ),
    "stats-from": Endpoint("agent", "GET", "/api/stats", "from", FAR_DAYS, _query("from")),
    "stats-to": Endpoint(
        "agent", "GET", "/api/stats", "to", FAR_DAYS, _query("to", **{"from": _TODAY})
    ),
}


async def _partner_booking(client: Any) -> tuple[str, str]:
    """A booking a partner point made with the citizen's email: the partner, the agent
    and the citizen's manage link may all move it. Returns its id and manage token."""
    slot = await first_free_slot(client)
    headers = await sign_in(client, PARTNER)
    made = await client.post(
        "/api/partner/bookings",
        json={"motif_id": DEMO_MOTIF, "start": slot["start"], "consent": True, "citizen": _CITIZEN},
        headers=headers,
    )
    assert made.status == 201, await made.text()
    booking = await made.json()
    return booking["id"], booking["manage_url"].split("#token=", 1)[1]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(ENDPOINTS))
async def test_date_far_from_today_gets_400_naming_the_field(
    booking_client: Any, name: str
) -> None:
    endpoint = ENDPOINTS[name]
    client = await booking_client()
    booking_id, token = await _partner_booking(client)
    headers: dict[str, str] = {}
    if endpoint.role == "agent":
        headers = await sign_in(client, AGENT)
    elif endpoint.role == "partner":
        headers = await sign_in(client, PARTNER)
    else:
        client.session.cookie_jar.clear()
    path = endpoint.path.format(booking_id=booking_id, token=token)
    for value in endpoint.values:
        response = await client.request(
            endpoint.method, path, headers=headers, **endpoint.request(value)
        )
        body = await response.text()
        assert response.status == 400, (value, response.status, body)
        error = await response.json()
        assert error["error"] == "date-out-of-range", (value, error)
        assert str(PAST_YEARS) in error["fields"][endpoint.field], (value, error)
        assert str(FUTURE_YEARS) in error["fields"][endpoint.field], (value, error)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_dates_inside_the_window_are_still_read(booking_client: Any) -> None:
    """The window's edges are inclusive and a day ahead keeps working as before."""
    client = await booking_client()
    today = datetime.now(PARIS).date()
    edge_past = today.replace(year=today.year - PAST_YEARS, day=min(today.day, 28))
    near = await client.get(
        f"/api/motifs/{DEMO_MOTIF}/slots", params={"from": _TODAY, "to": _TODAY}
    )
    assert near.status == 200
    await sign_in(client, AGENT)
    old = await client.get("/api/stats", params={"from": edge_past.isoformat(), "to": _TODAY})
    assert old.status == 200, await old.text()
