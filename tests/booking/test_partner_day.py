"""A partner point lists the day's bookings it made, with a join link for each open one."""

from __future__ import annotations

from typing import Any

from booking_api.context import CONTEXT
from tests.booking.conftest import DEMO_MOTIF, first_free_slot
from tests.booking.test_access_control import _login, _other_organisation


async def test_partner_point_sees_its_own_day_and_nobody_else_does(booking_client: Any) -> None:
    client = await booking_client()
    await _other_organisation(client.app._subapps[0][CONTEXT])
    slot = await first_free_slot(client)
    day = slot["start"][:10]
    headers = await _login(client, "partner-own")
    made = await client.post(
        "/api/partner/bookings",
        json={
            "motif_id": DEMO_MOTIF,
            "start": slot["start"],
            "consent": True,
            "citizen": {"name": "Usager sans équipement"},
        },
        headers=headers,
    )
    assert made.status == 201, await made.text()
    booking_id = (await made.json())["id"]

    response = await client.get(f"/api/partner/bookings?date={day}")
    assert response.status == 200
    listed = (await response.json())["bookings"]
    assert [b["id"] for b in listed] == [booking_id]
    assert listed[0]["citizen"]["name"] == "Usager sans équipement"
    assert "/call#token=" in listed[0]["join_url"]

    bad = await client.get("/api/partner/bookings?date=demain")
    assert bad.status == 422 and "date" in (await bad.json())["fields"]

    await _login(client, "partner-other")
    other = await client.get(f"/api/partner/bookings?date={day}")
    assert other.status == 200 and (await other.json())["bookings"] == []
    for role, status in (("agent-own", 403), ("admin-own", 403), ("anonymous", 401)):
        await _login(client, role)
        assert (await client.get(f"/api/partner/bookings?date={day}")).status == status, role
