"""Staff move a booking on the citizen's behalf, under the manage link's rules."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from booking_api.auth import insert_user
from booking_api.context import CONTEXT
from booking_api.slots import PARIS
from tests.booking.conftest import DEMO_MOTIF, booking_body
from tests.booking.test_availability import ADMIN, AGENT, sign_in

PARTNER = {"email": "accueil@demo.visioguichet.fr", "password": "demo-partner-2026"}


async def _free_starts(client: Any) -> list[str]:
    response = await client.get(f"/api/motifs/{DEMO_MOTIF}/slots")
    soon = datetime.now(PARIS) + timedelta(hours=1)
    return [
        s["start"]
        for s in (await response.json())["slots"]
        if datetime.fromisoformat(s["start"]) > soon
    ]


async def test_agent_moves_a_booking_the_old_slot_is_free_and_the_citizen_is_told(
    booking_client: Any, smtp_server: Any
) -> None:
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    first, _, target, *_ = await _free_starts(client)
    booked = await client.post("/api/bookings", json=booking_body(first))
    assert booked.status == 201
    booking = await booked.json()
    csrf = await sign_in(client, AGENT)

    moved = await client.post(
        f"/api/agent/bookings/{booking['id']}/reschedule",
        json={"start": target, "agent_id": "demo-agent"},
        headers=csrf,
    )
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["start"] == target
    free = await _free_starts(client)
    assert first in free and target not in free

    ctx = client.app._subapps[0][CONTEXT]
    kinds = [
        r["kind"]
        for r in await ctx.database.fetch_all(
            "SELECT kind FROM outbox WHERE booking_id = ? ORDER BY created_at, created_ns",
            booking["id"],
        )
    ]
    assert kinds == ["confirmation", "reschedule"]
    mails = await smtp_server.mailbox.wait_for(2)
    notice = next(m for m in mails if "déplacé" in str(m["Subject"]))
    assert notice["To"] == "jeanne@example.org"

    # The manage link the citizen already has shows the new time.
    token = booking["manage_url"].split("#token=", 1)[1]
    view = await (await client.get(f"/api/manage/{token}")).json()
    assert view["start"] == target


async def test_moving_onto_a_taken_slot_is_refused_and_nothing_changes(
    booking_client: Any,
) -> None:
    client = await booking_client()
    first, second, *_ = await _free_starts(client)
    one = await (await client.post("/api/bookings", json=booking_body(first))).json()
    other = booking_body(second, name="Luc Bernard", email="luc@example.org")
    assert (await client.post("/api/bookings", json=other)).status == 201
    csrf = await sign_in(client, ADMIN)

    taken = await client.post(
        f"/api/agent/bookings/{one['id']}/reschedule", json={"start": second}, headers=csrf
    )
    assert taken.status == 409 and (await taken.json())["error"] == "slot-taken"
    nowhere = await client.post(
        f"/api/agent/bookings/{one['id']}/reschedule",
        json={"start": "2020-01-01T09:00:00+01:00"},
        headers=csrf,
    )
    assert nowhere.status == 422 and "start" in (await nowhere.json())["fields"]
    bad = await client.post(
        f"/api/agent/bookings/{one['id']}/reschedule", json={"start": "demain"}, headers=csrf
    )
    assert bad.status == 422 and "start" in (await bad.json())["fields"]
    agenda = await (await client.get(f"/api/agent/agenda?date={first[:10]}")).json()
    assert next(b for b in agenda["bookings"] if b["id"] == one["id"])["start"] == first


async def test_agent_of_another_organisation_cannot_move_it(booking_client: Any) -> None:
    client = await booking_client()
    first, _, target, *_ = await _free_starts(client)
    booking = await (await client.post("/api/bookings", json=booking_body(first))).json()
    ctx = client.app._subapps[0][CONTEXT]
    async with ctx.database.transaction() as tx:
        await tx.execute(
            "INSERT INTO organisations (id, name, created_at) VALUES ('org-2', 'Autre', 0)"
        )
        await tx.execute(
            "INSERT INTO services (id, organisation_id, name) VALUES ('svc-2', 'org-2', 'S')"
        )
    await insert_user(
        ctx.database, email="agent@autre.example", password="mot-de-passe-solide",
        name="Autre", role="agent", organisation_id="org-2", service_id="svc-2",
    )  # fmt: skip
    csrf = await sign_in(
        client, {"email": "agent@autre.example", "password": "mot-de-passe-solide"}
    )
    refused = await client.post(
        f"/api/agent/bookings/{booking['id']}/reschedule", json={"start": target}, headers=csrf
    )
    assert refused.status == 404
    partner = await sign_in(client, PARTNER)  # the point did not book it
    refused = await client.post(
        f"/api/partner/bookings/{booking['id']}/reschedule", json={"start": target}, headers=partner
    )
    assert refused.status == 404
    free = await _free_starts(client)
    assert first not in free and target in free


async def test_partner_point_moves_the_booking_it_made(booking_client: Any) -> None:
    client = await booking_client()
    first, _, target, *_ = await _free_starts(client)
    csrf = await sign_in(client, PARTNER)
    made = await client.post(
        "/api/partner/bookings",
        json={"motif_id": DEMO_MOTIF, "start": first, "consent": True,
              "citizen": {"name": "Usager sans équipement"}},
        headers=csrf,
    )  # fmt: skip
    assert made.status == 201, await made.text()
    booking = await made.json()
    moved = await client.post(
        f"/api/partner/bookings/{booking['id']}/reschedule", json={"start": target}, headers=csrf
    )
    assert moved.status == 200, await moved.text()
    assert (await moved.json())["start"] == target
    assert first in await _free_starts(client)
