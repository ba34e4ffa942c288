"""Call-back requests and the call's written record: a citizen whose video failed leaves a
number (checked, kept in E.164) with their join link, the agent sees it on the agenda and
in the list beside the live queue and marks it done; the call's chat is kept for the
agent, not handed to the citizen, and purged with the booking."""

from __future__ import annotations

from typing import Any

from booking_api import CALL_EVENTS
from booking_api.context import CONTEXT
from booking_api.housekeeping import purge_personal_data
from tests.booking.conftest import booking_body, first_free_slot
from tests.booking.test_availability import AGENT, sign_in


def _bearer(url: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + url.split("#token=", 1)[1]}


async def _book(client: Any) -> dict[str, Any]:
    slot = await first_free_slot(client)
    response = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert response.status == 201
    return dict(await response.json())


async def test_a_citizen_asks_to_be_called_back_and_an_agent_marks_it_done(
    booking_client: Any,
) -> None:
    client = await booking_client()
    booking = await _book(client)
    url = "/api/callbacks"
    citizen = _bearer(booking["join_url"])

    assert (await client.post(url, json={"phone": "06 12 34 56 78"})).status == 401
    forged = {"Authorization": "Bearer forged"}
    assert (await client.post(url, json={"phone": "0612345678"}, headers=forged)).status == 401
    for phone, code in (("", "required"), ("06 12 34 56", "unknown-phone-number"), ("<b>", None)):
        refused = await client.post(url, json={"phone": phone}, headers=citizen)
        assert refused.status == 422, phone
        errors = {e["field"]: e["code"] for e in (await refused.json())["field_errors"]}
        assert "phone" in errors and (code is None or errors["phone"] == code), errors
    bad_moment = await client.post(
        url, json={"phone": "0612345678", "moment": "later"}, headers=citizen
    )
    assert bad_moment.status == 422 and "moment" in (await bad_moment.json())["fields"]

    asked = await client.post(
        url, json={"phone": "06 12 34 56 78", "moment": "precheck"}, headers=citizen
    )
    assert asked.status == 201, await asked.text()
    first = await asked.json()
    assert (first["phone"], first["moment"], first["done"]) == ("+33612345678", "precheck", False)
    # asking again updates the one open request
    again = await (
        await client.post(url, json={"phone": "+32 470 12 34 56"}, headers=citizen)
    ).json()
    assert again["id"] == first["id"] and again["phone"] == "+32470123456"

    csrf = await sign_in(client, AGENT)
    day = booking["start"][:10]
    agenda = await (await client.get(f"/api/agent/agenda?date={day}")).json()
    (row,) = [b for b in agenda["bookings"] if b["id"] == booking["id"]]
    assert row["callback"]["phone"] == "+32470123456"
    listed = (await (await client.get("/api/agent/callbacks")).json())["callbacks"]
    assert [(c["id"], c["citizen_name"]) for c in listed] == [(first["id"], "Jeanne Dupont")]

    done = await client.post(f"/api/agent/callbacks/{first['id']}/done", headers=csrf)
    assert done.status == 200 and (await done.json())["done"] is True
    assert (await (await client.get("/api/agent/callbacks")).json())["callbacks"] == []
    agenda = await (await client.get(f"/api/agent/agenda?date={day}")).json()
    assert "callback" not in next(b for b in agenda["bookings"] if b["id"] == booking["id"])
    missing = await client.post("/api/agent/callbacks/nope/done", headers=csrf)
    assert missing.status == 404


async def test_the_call_chat_is_kept_for_the_agent_and_purged_with_the_booking(
    booking_client: Any,
) -> None:
    client = await booking_client(purge_after_days=30)
    booking = await _book(client)
    sink = client.app._subapps[0][CALL_EVENTS]
    await sink.record(
        booking["id"],
        "chat",
        1000.0,
        {"participant_id": "citizen:x", "role": "guest", "name": "Jeanne", "text": "Mon n° : 42"},
    )
    await sink.record(
        booking["id"],
        "chat",
        1001.0,
        {"participant_id": "agent:y", "role": "host", "name": "Claire", "text": "Bien noté"},
    )
    await sink.record("load-test-room", "chat", 1002.0, {"role": "host", "text": "x"})
    url = f"/api/agent/bookings/{booking['id']}/chat"
    # the citizen's links do not give the record back
    assert (await client.get(url, headers=_bearer(booking["join_url"]))).status == 401
    await sign_in(client, AGENT)
    record = (await (await client.get(url)).json())["messages"]
    assert [(m["name"], m["role"], m["text"]) for m in record] == [
        ("Jeanne", "guest", "Mon n° : 42"),
        ("Claire", "host", "Bien noté"),
    ]

    ctx = client.app._subapps[0][CONTEXT]
    row = await ctx.database.fetch_one("SELECT end_at FROM bookings WHERE id = ?", booking["id"])
    assert await purge_personal_data(ctx, now=row["end_at"] + 31 * 86400) == 1
    assert (await (await client.get(url)).json())["messages"] == []
    kinds = await ctx.database.fetch_all(
        "SELECT kind FROM call_events WHERE booking_id = ?", booking["id"]
    )
    assert "chat" not in [k["kind"] for k in kinds]
