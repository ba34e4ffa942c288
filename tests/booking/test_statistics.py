"""Statistics from bookings, outcomes, call events and survey answers; JSON and CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

from booking_api import CALL_EVENTS
from tests.booking.conftest import DEMO_MOTIF, booking_body


async def test_statistics_count_outcomes_call_length_audio_only_and_survey(
    booking_client: Any,
) -> None:
    client = await booking_client()
    booking_app = client.app._subapps[0]
    listed = (await (await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")).json())["slots"]
    slots = listed[-3:]  # days ahead: clear of the minimum notice
    made = []
    for slot in slots:
        response = await client.post("/api/bookings", json=booking_body(slot["start"]))
        made.append(await response.json())
    login = await client.post(
        "/api/auth/login",
        json={"email": "admin@demo.visioguichet.fr", "password": "demo-admin-2026"},
    )
    csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
    honoured, absent, cancelled = made
    for booking, outcome in ((honoured, "done"), (absent, "no-show")):
        response = await client.post(
            f"/api/agent/bookings/{booking['id']}/outcome", json={"status": outcome}, headers=csrf
        )
        assert response.status == 200
    manage_token = cancelled["manage_url"].split("#token=")[1]
    assert (await client.post(f"/api/manage/{manage_token}/cancel")).status == 200

    sink = booking_app[CALL_EVENTS]
    room = honoured["id"]
    await sink.record(room, "call-started", 1000.0, {})
    for at, audio_only in ((1060.0, False), (1120.0, True), (1180.0, True), (1240.0, False)):
        await sink.record(room, "quality", at, {"audio_only": audio_only, "name": "Jeanne"})
    await sink.record(room, "call-ended", 1000.0 + 12 * 60, {})
    survey = await client.post(
        f"/api/bookings/{room}/survey",
        json={"score": 5},
        headers={"Authorization": "Bearer " + honoured["join_url"].split("#token=")[1]},
    )
    assert survey.status == 200

    first, last = slots[0]["start"][:10], slots[2]["start"][:10]
    url = f"/api/stats?from={first}&to={last}&group_by=motif"
    stats = await (await client.get(url)).json()
    [row] = stats["rows"]
    assert row["group"] == DEMO_MOTIF
    assert (row["booked"], row["honoured"], row["no_shows"], row["cancelled"]) == (3, 1, 1, 1)
    assert row["call_duration_min"] == 12.0
    assert row["audio_only_share"] == 0.5
    assert row["survey_score"] == 5.0
    assert row["lead_time_hours"] > 0

    exported = await client.get(url + "&format=csv")
    assert exported.content_type == "text/csv"
    [csv_row] = list(csv.DictReader(io.StringIO(await exported.text())))
    assert csv_row["booked"] == "3" and csv_row["audio_only_share"] == "0.5"
    stored = await booking_app_events(booking_app)
    assert all("Jeanne" not in data for data in stored)


async def booking_app_events(booking_app: Any) -> list[str]:
    from booking_api.context import CONTEXT

    rows = await booking_app[CONTEXT].database.fetch_all("SELECT data FROM call_events")
    return [r["data"] for r in rows]


async def test_a_call_that_starts_again_without_ending_is_recorded_as_interrupted(
    booking_client: Any,
) -> None:
    """A room's node dies and the room opens again elsewhere: the record says so."""
    from booking_api.context import CONTEXT

    client = await booking_client()
    booking_app = client.app._subapps[0]
    sink = booking_app[CALL_EVENTS]
    await sink.record("room-a", "call-started", 1000.0, {})
    await sink.record("room-a", "participant-joined", 1001.0, {})
    await sink.record("room-a", "call-started", 1004.5, {})  # opened again, never ended
    await sink.record("room-a", "call-ended", 1300.0, {})
    await sink.record("room-a", "call-started", 2000.0, {})  # a new call after an end
    rows = await booking_app[CONTEXT].database.fetch_all(
        "SELECT kind, at, data FROM call_events WHERE booking_id = ? ORDER BY at, kind",
        "room-a",
    )
    interrupted = [r for r in rows if r["kind"] == "call-interrupted"]
    assert len(interrupted) == 1
    assert interrupted[0]["at"] == 1004.5
    assert '"gap_s": 3.5' in interrupted[0]["data"]
