"""An administrator manages services, motifs, agents and partner points of their own
organisation; each change is what the public booking flow and sign-in then see."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tests.booking.conftest import booking_body
from tests.booking.test_availability import ADMIN, ALL_DAY, sign_in

NEW_MOTIF = {
    "label": "Rendez-vous retraite",
    "duration_min": 45,
    "channels": ["video", "phone"],
    "notice_min": 120,
    "horizon_days": 10,
    "buffer_min": 15,
    "needs_review": True,
}


async def public_motifs(client: Any) -> dict[str, dict[str, Any]]:
    services = await (await client.get("/api/services")).json()
    return {m["id"]: m for s in services for m in s["motifs"]}


async def test_admin_creates_service_motif_and_agent_and_citizens_can_book_it(
    booking_client: Any,
) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    service = await client.post("/api/admin/services", json={"name": "Retraite"}, headers=csrf)
    assert service.status == 201
    service_id = (await service.json())["id"]
    made = await client.post(
        f"/api/admin/services/{service_id}/motifs", json=NEW_MOTIF, headers=csrf
    )
    assert made.status == 201, await made.text()
    motif = await made.json()
    assert {k: motif[k] for k in NEW_MOTIF} == NEW_MOTIF and motif["active"] is True
    public = (await public_motifs(client))[motif["id"]]
    assert public["needs_review"] is True and public["buffer_min"] == 15
    # No agent in the service yet: nothing to book.
    slots_url = f"/api/motifs/{motif['id']}/slots"
    assert (await (await client.get(slots_url)).json())["slots"] == []

    agent = await client.post(
        "/api/admin/agents",
        json={
            "name": "Lou Bernard",
            "email": "Lou.Bernard@demo.example",
            "password": "un-mot-de-passe-solide",
            "service_id": service_id,
        },
        headers=csrf,
    )
    assert agent.status == 201, await agent.text()
    agent_body = await agent.json()
    assert agent_body["email"] == "lou.bernard@demo.example" and agent_body["active"]
    rules = await client.put(
        f"/api/agents/{agent_body['id']}/availability", json={"rules": ALL_DAY}, headers=csrf
    )
    assert rules.status == 200
    slots = (await (await client.get(slots_url)).json())["slots"]
    assert slots and {s["agent_id"] for s in slots} == {agent_body["id"]}
    starts = [datetime.fromisoformat(s["start"]) for s in slots]
    # two slots of one day: late in the evening, today's last is followed by tomorrow's first
    i = next(i for i in range(len(starts) - 1) if starts[i].date() == starts[i + 1].date())
    assert starts[i + 1] - starts[i] == timedelta(minutes=45)  # the buffer follows a booking
    assert datetime.fromisoformat(slots[-1]["start"]) - datetime.fromisoformat(
        slots[0]["start"]
    ) <= timedelta(days=10)

    body = booking_body(slots[i]["start"]) | {"motif_id": motif["id"]}
    assert (await client.post("/api/bookings", json=body)).status == 201
    after = [s["start"] for s in (await (await client.get(slots_url)).json())["slots"]]
    assert slots[i + 1]["start"] not in after  # 45 min + 15 min buffer reach into it

    withdrawn = await client.patch(
        f"/api/admin/motifs/{motif['id']}", json={"active": False}, headers=csrf
    )
    assert withdrawn.status == 200 and (await withdrawn.json())["active"] is False
    assert motif["id"] not in await public_motifs(client)
    listing = await (await client.get("/api/admin/services")).json()
    [mine] = [s for s in listing["services"] if s["id"] == service_id]
    assert [m["active"] for m in mine["motifs"]] == [False]


async def test_deactivated_agent_cannot_sign_in_and_offers_no_more_slots(
    booking_client: Any,
) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    agents = (await (await client.get("/api/admin/agents")).json())["agents"]
    [demo] = [a for a in agents if a["email"] == "agent@demo.visioguichet.fr"]
    agent_session = await client.post(
        "/api/auth/login",
        json={"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"},
    )
    assert agent_session.status == 200
    csrf = await sign_in(client, ADMIN)
    off = await client.patch(
        f"/api/admin/agents/{demo['id']}", json={"active": False}, headers=csrf
    )
    assert off.status == 200 and (await off.json())["active"] is False
    slots = await (await client.get("/api/motifs/demo-motif-info/slots")).json()
    assert slots["slots"] == []
    client.session.cookie_jar.clear()
    refused = await client.post(
        "/api/auth/login",
        json={"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"},
    )
    assert refused.status == 401
    csrf = await sign_in(client, ADMIN)
    on = await client.patch(f"/api/admin/agents/{demo['id']}", json={"active": True}, headers=csrf)
    assert on.status == 200
    assert (await (await client.get("/api/motifs/demo-motif-info/slots")).json())["slots"]


async def test_partner_points_and_their_staff_accounts(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    point = await client.post(
        "/api/admin/partner-points",
        json={"name": "Mairie de Villeneuve", "address": "2 rue de la Paix, 12345 Villeneuve"},
        headers=csrf,
    )
    assert point.status == 201
    point_id = (await point.json())["id"]
    moved = await client.patch(
        f"/api/admin/partner-points/{point_id}",
        json={"address": "4 rue de la Paix, 12345 Villeneuve"},
        headers=csrf,
    )
    assert (await moved.json())["address"] == "4 rue de la Paix, 12345 Villeneuve"
    staff = {"name": "Accueil mairie", "email": "accueil@villeneuve.example",
             "password": "mot-de-passe-mairie"}  # fmt: skip
    created = await client.post(
        f"/api/admin/partner-points/{point_id}/staff", json=staff, headers=csrf
    )
    assert created.status == 201, await created.text()
    staff_id = (await created.json())["id"]
    again = await client.post(
        f"/api/admin/partner-points/{point_id}/staff", json=staff, headers=csrf
    )
    assert again.status == 409 and "email" in (await again.json())["fields"]

    client.session.cookie_jar.clear()
    login = await client.post(
        "/api/auth/login", json={"email": staff["email"], "password": staff["password"]}
    )
    assert login.status == 200
    assert (await login.json())["user"]["partner_point_id"] == point_id

    csrf = await sign_in(client, ADMIN)
    points = (await (await client.get("/api/admin/partner-points")).json())["partner_points"]
    [listed] = [p for p in points if p["id"] == point_id]
    assert [s["email"] for s in listed["staff"]] == [staff["email"]]
    off = await client.patch(
        f"/api/admin/partner-points/{point_id}/staff/{staff_id}",
        json={"active": False},
        headers=csrf,
    )
    assert off.status == 200
    client.session.cookie_jar.clear()
    login = await client.post(
        "/api/auth/login", json={"email": staff["email"], "password": staff["password"]}
    )
    assert login.status == 401


async def test_management_input_errors_name_their_fields(booking_client: Any) -> None:
    client = await booking_client()
    csrf = await sign_in(client, ADMIN)
    services = (await (await client.get("/api/admin/services")).json())["services"]
    service_id = services[0]["id"]
    bad_motif = {
        "label": "  ",
        "duration_min": 7,
        "channels": ["video", "fax"],
        "notice_min": -5,
        "horizon_days": "30",
        "buffer_min": 1000,
        "needs_review": "oui",
    }
    response = await client.post(
        f"/api/admin/services/{service_id}/motifs", json=bad_motif, headers=csrf
    )
    assert response.status == 422
    assert set((await response.json())["fields"]) == set(bad_motif)
    missing = await client.post(f"/api/admin/services/{service_id}/motifs", json={}, headers=csrf)
    assert set((await missing.json())["fields"]) == {"label", "duration_min", "channels"}
    patch = await client.patch(
        "/api/admin/motifs/demo-motif-info", json={"duration_min": 0}, headers=csrf
    )
    assert patch.status == 422 and "duration_min" in (await patch.json())["fields"]

    agent = await client.post(
        "/api/admin/agents",
        json={"name": "", "email": "pas-une-adresse", "password": "court", "service_id": "x"},
        headers=csrf,
    )
    assert agent.status == 422
    assert set((await agent.json())["fields"]) == {"name", "email", "password"}
    unknown = await client.post(
        "/api/admin/agents",
        json={"name": "A", "email": "a@demo.example", "password": "assez-long-pour-passer",
              "service_id": "no-such-service"},
        headers=csrf,
    )  # fmt: skip
    assert unknown.status == 422 and "service_id" in (await unknown.json())["fields"]
    taken = await client.post(
        "/api/admin/agents",
        json={"name": "A", "email": "agent@demo.visioguichet.fr",
              "password": "assez-long-pour-passer", "service_id": service_id},
        headers=csrf,
    )  # fmt: skip
    assert taken.status == 409 and "email" in (await taken.json())["fields"]
    point = await client.post("/api/admin/partner-points", json={"name": "X"}, headers=csrf)
    assert point.status == 422 and set((await point.json())["fields"]) == {"address"}
    not_json = await client.post(
        "/api/admin/services", data="nom=Retraite", headers=csrf | {"Content-Type": "text/plain"}
    )
    assert not_json.status == 400
