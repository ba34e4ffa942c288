"""Every staff endpoint × every role × own or other organisation."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest

from booking_api.auth import insert_user
from booking_api.context import CONTEXT
from tests.booking.conftest import DEMO_MOTIF, first_free_slot

OTHER_ORG = "other-org"
DEMO_ORG = "demo-caf"
DEMO_CLOSURE = (date.today() + timedelta(days=90)).isoformat()
DEMO_AGENT = "demo-agent"
DEMO_SERVICE = "demo-caf-prestations"
DEMO_POINT = "demo-france-services"
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

ADMIN_ONLY = {
    "anonymous": 401, "agent-own": 403, "partner-own": 403, "agent-other": 403,
    "partner-other": 403,
}  # fmt: skip

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
    "GET /partner/bookings": {
        "anonymous": 401, "admin-own": 403, "agent-own": 403, "partner-own": 200,
        "admin-other": 403, "agent-other": 403, "partner-other": 200,
    },
    # Availability of the demo organisation's agent: theirs or their administrator's.
    "GET /agents/{agent}/availability": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "PUT /agents/{agent}/availability": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /agents/{agent}/absences": {
        "anonymous": 401, "admin-own": 201, "agent-own": 201, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "DELETE /agents/{agent}/absences/{absence}": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /agent/bookings/{id}/confirm": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /agent/bookings/{id}/cancel": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    # Administration: collections are each administrator's own organisation; the demo
    # organisation's rows do not exist for the other administrator.
    "GET /admin/services": ADMIN_ONLY | {"admin-own": 200, "admin-other": 200},
    "POST /admin/services": ADMIN_ONLY | {"admin-own": 201, "admin-other": 201},
    "PATCH /admin/services/{service}": ADMIN_ONLY | {"admin-own": 200, "admin-other": 404},
    "POST /admin/services/{service}/motifs": ADMIN_ONLY | {"admin-own": 201, "admin-other": 404},
    "PATCH /admin/motifs/{motif}": ADMIN_ONLY | {"admin-own": 200, "admin-other": 404},
    "GET /admin/agents": ADMIN_ONLY | {"admin-own": 200, "admin-other": 200},
    "POST /admin/agents": ADMIN_ONLY | {"admin-own": 201, "admin-other": 422},
    "PATCH /admin/agents/{agent}": ADMIN_ONLY | {"admin-own": 200, "admin-other": 404},
    "GET /admin/partner-points": ADMIN_ONLY | {"admin-own": 200, "admin-other": 200},
    "POST /admin/partner-points": ADMIN_ONLY | {"admin-own": 201, "admin-other": 201},
    "PATCH /admin/partner-points/{point}": ADMIN_ONLY | {"admin-own": 200, "admin-other": 404},
    "POST /admin/partner-points/{point}/staff": ADMIN_ONLY
    | {"admin-own": 201, "admin-other": 404},
    "PATCH /admin/partner-points/{point}/staff/{staff}": ADMIN_ONLY
    | {"admin-own": 200, "admin-other": 404},
    # Closed days: each administrator's own organisation; the demo organisation's closure
    # days do not exist for the other administrator.
    "GET /admin/closures": ADMIN_ONLY | {"admin-own": 200, "admin-other": 200},
    "PUT /admin/closures/calendar": ADMIN_ONLY | {"admin-own": 200, "admin-other": 200},
    "POST /admin/closures/days": ADMIN_ONLY | {"admin-own": 201, "admin-other": 201},
    "DELETE /admin/closures/days/{closure}": ADMIN_ONLY | {"admin-own": 200, "admin-other": 404},
    # Moving the booking on the citizen's behalf: staff of the organisation, or the point
    # that booked it.
    "POST /agent/bookings/{id}/reschedule": {
        "anonymous": 401, "admin-own": 200, "agent-own": 200, "partner-own": 403,
        "admin-other": 404, "agent-other": 404, "partner-other": 403,
    },
    "POST /partner/bookings/{id}/reschedule": {
        "anonymous": 401, "admin-own": 403, "agent-own": 403, "partner-own": 200,
        "admin-other": 403, "agent-other": 403, "partner-other": 404,
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


async def _sessions(client: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """One signed-in session per role (cookie, CSRF header), made once: hashing passwords
    for every request would make the matrix slow."""
    sessions: dict[str, tuple[str, dict[str, str]]] = {"anonymous": ("", {})}
    for role, email in ACCOUNTS.items():
        client.session.cookie_jar.clear()
        response = await client.post(
            "/api/auth/login",
            json={"email": email, "password": DEMO_PASSWORDS.get(email, PASSWORD)},
        )
        assert response.status == 200, role
        cookie = response.cookies["vg_session"].value
        sessions[role] = (cookie, {"X-CSRF-Token": (await response.json())["csrf_token"]})
    client.session.cookie_jar.clear()
    return sessions


def _bodies(slot_start: str, serial: int) -> dict[str, Any]:
    """A valid body per endpoint, so that only the role and organisation decide."""
    far = datetime.fromisoformat(slot_start) + timedelta(days=20)
    moved = datetime.fromisoformat(slot_start) + timedelta(days=2, hours=1)  # same length grid
    account = {"name": "Nouveau compte", "email": f"compte{serial}@demo.example",
               "password": "mot-de-passe-solide"}  # fmt: skip
    return {
        "POST /agent/bookings/{id}/outcome": {"status": "no-show"},
        "PUT /agents/{agent}/availability": {
            "rules": [{"weekday": d, "start": "00:00", "end": "24:00"} for d in range(7)]
        },
        "POST /agents/{agent}/absences": {
            "start": far.isoformat(), "end": (far + timedelta(hours=1)).isoformat()
        },
        "POST /admin/services": {"name": "Service ajouté"},
        "PATCH /admin/services/{service}": {"name": "Accueil des allocataires"},
        "POST /admin/services/{service}/motifs": {
            "label": "Motif ajouté", "duration_min": 30, "channels": ["video"]
        },
        "PATCH /admin/motifs/{motif}": {"needs_review": False},
        "POST /admin/agents": account | {"service_id": DEMO_SERVICE},
        "PATCH /admin/agents/{agent}": {"name": "Camille Martin"},
        "POST /admin/partner-points": {"name": "Point ajouté", "address": "1 rue Neuve"},
        "PATCH /admin/partner-points/{point}": {"address": "1 place de la Mairie"},
        "POST /admin/partner-points/{point}/staff": account,
        "PATCH /admin/partner-points/{point}/staff/{staff}": {"name": "Accueil France Services"},
        # The demonstration stays open on public holidays; a closure well after the slot.
        "PUT /admin/closures/calendar": {"holiday_calendar": "none"},
        "POST /admin/closures/days": {"date": (far + timedelta(days=5)).date().isoformat(),
                                      "label": "Pont"},
        "POST /agent/bookings/{id}/reschedule": {"start": moved.isoformat()},
        "POST /partner/bookings/{id}/reschedule": {"start": moved.isoformat()},
    }  # fmt: skip


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_access_matrix_every_endpoint_every_role_own_and_other_organisation(
    booking_client: Any,
) -> None:
    client = await booking_client()
    ctx = client.app._subapps[0][CONTEXT]
    await _other_organisation(ctx)
    slot = await first_free_slot(client)
    sessions = await _sessions(client)
    made = await client.post(
        "/api/partner/bookings",
        json={
            "motif_id": DEMO_MOTIF,
            "start": slot["start"],
            "consent": True,
            "citizen": {"name": "Usager sans équipement"},
        },
        headers=sessions["partner-own"][1] | {"Cookie": f"vg_session={sessions['partner-own'][0]}"},
    )
    assert made.status == 201, await made.text()
    booking = await made.json()
    assert booking["booked_by"] == "partner" and booking["citizen"]["email"] is None
    day = slot["start"][:10]
    new_booking = {"motif_id": DEMO_MOTIF, "start": slot["start"], "consent": True,
                   "citizen": {"name": "X", "email": "x@example.org"}}  # fmt: skip
    staff = await ctx.database.fetch_one(
        "SELECT id FROM users WHERE email = ?", ACCOUNTS["partner-own"]
    )
    ids = {"{id}": booking["id"], "{agent}": DEMO_AGENT, "{service}": DEMO_SERVICE,
           "{motif}": DEMO_MOTIF, "{point}": DEMO_POINT, "{staff}": staff["id"]}  # fmt: skip
    day_query = {"/agent/agenda": f"?date={day}", "/partner/bookings": f"?date={day}"}
    await ctx.database.execute(
        "INSERT INTO closure_days (organisation_id, day, label, created_at) "
        "VALUES (?, ?, 'Pont', 0)",
        DEMO_ORG,
        DEMO_CLOSURE,
    )

    failures = []
    serial = 0
    for endpoint, expected in MATRIX.items():
        method, path = endpoint.split(" ")
        for role, status in expected.items():
            serial += 1
            url = "/api" + path
            for placeholder, value in ids.items():
                url = url.replace(placeholder, value)
            if "{absence}" in url:  # a fresh absence for each attempt to remove one
                absence_id = f"absence-{serial}"
                await ctx.database.execute(
                    "INSERT INTO absences (id, agent_id, start_at, end_at, reason) "
                    "VALUES (?, ?, ?, ?, '')",
                    absence_id, DEMO_AGENT, 4_000_000_000, 4_000_003_600,
                )  # fmt: skip
                url = url.replace("{absence}", absence_id)
            if "{closure}" in url:  # a fresh closure day of the demo organisation each time
                closed = (date.today() + timedelta(days=100 + serial)).isoformat()
                await ctx.database.execute(
                    "INSERT INTO closure_days (organisation_id, day, label, created_at) "
                    "VALUES (?, ?, 'Grève', 0)",
                    DEMO_ORG, closed,
                )  # fmt: skip
                url = url.replace("{closure}", closed)
            # The state each attempt acts on: awaiting review to confirm, active to cancel.
            before = {"/confirm": "pending", "/cancel": "booked", "/reschedule": "booked"}.get(
                path[path.rfind("/") :]
            )
            if before:
                await ctx.database.execute(
                    "UPDATE bookings SET status = ? WHERE id = ?", before, booking["id"]
                )
            if method == "GET":
                url += day_query.get(path, "")
            body = _bodies(slot["start"], serial).get(endpoint, new_booking)
            cookie, headers = sessions[role]
            client.session.cookie_jar.clear()
            if cookie:
                headers = headers | {"Cookie": f"vg_session={cookie}"}
            response = await client.request(
                method, url, json=None if method in ("GET", "DELETE") else body, headers=headers
            )
            if response.status != status:
                failures.append(f"{endpoint} as {role}: {response.status} != {status}")
                continue
            if status != 200 or method != "GET":
                continue
            shown = await response.json()
            own = role.endswith("-own")
            if path in ("/agent/agenda", "/partner/bookings"):
                listed = [b["id"] for b in shown["bookings"]]
                if (booking["id"] in listed) != own:
                    failures.append(f"{path} as {role} shows {listed}")
            elif path == "/stats" and not own and sum(r["booked"] for r in shown["rows"]):
                failures.append(f"stats as {role} count another organisation's booking")
            elif path == "/admin/closures":
                if (DEMO_CLOSURE in [c["date"] for c in shown["closure_days"]]) != own:
                    failures.append(f"{path} as {role} lists {shown['closure_days']}")
            elif path.startswith("/admin/"):
                collection = next(iter(shown.values()))
                demo_ids = {DEMO_SERVICE, DEMO_AGENT, DEMO_POINT}
                if bool(demo_ids & {row["id"] for row in collection}) != own:
                    failures.append(f"{path} as {role} lists {collection}")
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
