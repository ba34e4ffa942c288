"""Every staff endpoint × every role × own or other organisation."""

from __future__ import annotations

from typing import Any

import pytest

from booking_api.auth import insert_user
from booking_api.context import CONTEXT
from tests.booking.conftest import DEMO_MOTIF, first_free_slot

OTHER_ORG = "other-org"
PASSWORD = "mot-de-passe-solide"

ACCOUNTS = {
    "admin-own": "admin@demo.visioguichet.fr",
    "agent-own": "agent@demo.visioguichet.fr",
    "partner-own": "accueil@demo.visioguichet.fr",
    "admin-other": "admin@other.example",
    "agent-other": "agent@other.example",
    "partner-other": "accueil@other.example",
}
DEMO_PASSWORDS = {
    "admin@demo.visioguichet.fr": "demo-admin-2026",
    "agent@demo.visioguichet.fr": "demo-agent-2026",
    "accueil@demo.visioguichet.fr": "demo-partner-2026",
}

# endpoint → expected status per role, for a booking of the demo organisation made by
# the demo partner point. 404 (not 403) across organisations: it does not exist there.
MATRIX: dict[str, dict[str, int]] = {
    "GET /agent/agenda": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 200, "agent-other": 200, "partner-other": 403,
    },
    "POST /agent/bookings/{id}/join": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /agent/bookings/{id}/outcome": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "GET /bookings/{id}/files": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 200,
        "admin-other": 404, "agent-other": 404, "partner-other": 404,
    },
    "POST /agent/bookings": {
        "anonymous": 401, "admin-own": 409, "agent-own": 409, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /partner/bookings": {
        "anonymous": 401, "admin-own": 403, "agent-own": 403, "partner-own": 409,
        "admin-other": 403, "agent-other": 403, "partner-other": 404,
    },
    "GET /stats": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 200,
        "admin-other": 200, "agent-other": 200, "partner-other": 200,
    },
    "GET /auth/me": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 200,
        "admin-other": 200, "agent-other": 200, "partner-other": 200,
    },
}  # fmt: skip


async def _other_organisation(ctx: Any) -> None:
    db = ctx.database
    async with db.transaction() as tx:
        await tx.execute(
            "INSERT INTO organisations (id, name, created_at) VALUES (?, ?, 0)", OTHER_ORG, "Autre"
        )
        await tx.execute(
            "INSERT INTO services (id, organisation_id, name) VALUES (?, ?, ?)",
            "other-service",
            OTHER_ORG,
            "Autre service",
        )
        await tx.execute(
            "INSERT INTO partner_points (id, organisation_id, name) VALUES (?, ?, ?)",
            "other-point",
            OTHER_ORG,
            "Autre point",
        )
    for role, email in ACCOUNTS.items():
        if role.endswith("-other"):
            kind = role.split("-")[0]
            await insert_user(
                db,
                email=email,
                password=PASSWORD,
                name=role,
                role=kind,
                organisation_id=OTHER_ORG,
                service_id="other-service" if kind == "agent" else None,
                partner_point_id="other-point" if kind == "partner" else None,
            )


async def _login(client: Any, role: str) -> dict[str, str]:
    await client.post("/api/auth/logout")  # anonymous after this (cookie cleared or 401)
    client.session.cookie_jar.clear()
    if role == "anonymous":
        return {}
    email = ACCOUNTS[role]
    response = await client.post(
        "/api/auth/login", json={"email": email, "password": DEMO_PASSWORDS.get(email, PASSWORD)}
    )
    assert response.status == 200, role
    return {"X-CSRF-Token": (await response.json())["csrf_token"]}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_access_matrix_every_endpoint_every_role_own_and_other_organisation(
    booking_client: Any,
) -> None:
    client = await booking_client()
    ctx = client.app._subapps[0][CONTEXT]
    await _other_organisation(ctx)
    slot = await first_free_slot(client)
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
    booking = await made.json()
    assert booking["booked_by"] == "partner" and booking["citizen"]["email"] is None
    day = slot["start"][:10]
    new_booking = {"motif_id": DEMO_MOTIF, "start": slot["start"], "consent": True,
                   "citizen": {"name": "X", "email": "x@example.org"}}  # fmt: skip

    failures = []
    for endpoint, expected in MATRIX.items():
        method, path = endpoint.split(" ")
        url = "/api" + path.replace("{id}", booking["id"])
        if path == "/agent/agenda":
            url += f"?date={day}"
        for role, status in expected.items():
            headers = await _login(client, role)
            body = {"status": "no-show"} if path.endswith("/outcome") else new_booking
            response = await client.request(
                method, url, json=body if method == "POST" else None, headers=headers
            )
            if response.status != status:
                failures.append(f"{endpoint} as {role}: {response.status} != {status}")
            elif path == "/agent/agenda" and status == 200:
                ids = [b["id"] for b in (await response.json())["bookings"]]
                if (booking["id"] in ids) != role.endswith("-own"):
                    failures.append(f"agenda as {role} shows {ids}")
            elif path == "/stats" and status == 200 and role.endswith("-other"):
                rows = (await response.json())["rows"]
                if sum(r["booked"] for r in rows):
                    failures.append(f"stats as {role} count another organisation's booking")
    assert failures == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_partner_booking_needs_consent_and_the_citizens_own_contact(
    booking_client: Any,
) -> None:
    client = await booking_client()
    slot = await first_free_slot(client)
    headers = await _login(client, "partner-own")
    body = {"motif_id": DEMO_MOTIF, "start": slot["start"],
            "citizen": {"name": "Jean", "email": "accueil@demo.visioguichet.fr"}}  # fmt: skip
    refused = await client.post("/api/partner/bookings", json=body, headers=headers)
    assert refused.status == 422
    fields = (await refused.json())["fields"]
    assert "consent" in fields and "citizen.email" in fields
