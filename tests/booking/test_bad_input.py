"""Bad input gets a JSON 4xx naming the field, in French; never a crash or HTML."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from booking_api.slots import PARIS
from tests.booking.conftest import booking_body, first_free_slot


def _past_weekday_morning() -> str:
    day = datetime.now(PARIS) - timedelta(days=7)
    return day.replace(hour=9, minute=0, second=0, microsecond=0).isoformat()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda b: b["citizen"].update(name="  "), "citizen.name", "nom"),
        (lambda b: b["citizen"].update(email="pas-une-adresse"), "citizen.email", "email"),
        (lambda b: b["citizen"].pop("email"), "citizen.email", "téléphone"),
        (lambda b: b.update(motif_id="no-such-motif"), "motif_id", "Motif inconnu"),
        (lambda b: b.update(start=_past_weekday_morning()), "start", "passé"),
        (lambda b: b.update(start="demain matin"), "start", "ISO 8601"),
    ],
    ids=["empty-name", "bad-email", "no-contact", "unknown-motif", "past-slot", "bad-date"],
)
async def test_booking_with_bad_field_gets_422_naming_it(
    booking_client: Any, change: Any, field: str, words: str
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    body = booking_body(slot["start"])
    change(body)
    response = await client.post("/api/bookings", json=body)
    assert response.status == 422
    error = await response.json()
    assert error["error"] == "validation"
    assert words in error["fields"][field]


async def test_booking_with_non_json_body_gets_400(booking_client: Any) -> None:
    client = await booking_client()
    response = await client.post(
        "/api/bookings", data=b"<html>", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "bad-request"


async def test_unknown_motif_slots_and_bad_dates_are_json_errors(booking_client: Any) -> None:
    client = await booking_client()
    missing = await client.get("/api/motifs/nope/slots")
    assert missing.status == 404 and (await missing.json())["error"] == "not-found"
    bad = await client.get("/api/motifs/demo-motif-info/slots?from=2026-13-45")
    assert bad.status == 422 and "from" in (await bad.json())["fields"]
    unknown = await client.get("/api/manage/not-a-token")
    assert unknown.status == 404 and unknown.content_type == "application/json"
