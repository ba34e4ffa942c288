"""Instant queue: agents see it live over SSE, take the first; the waiting side sees its
position and then gets a join link into the same room."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.booking.conftest import DEMO_MOTIF
from visioguichet.join_token import JoinTokenSigner


async def _next_queue_event(stream: Any) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        event = None
        while True:
            line = (await stream.content.readline()).decode().strip()
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "queue":
                return list(json.loads(line.removeprefix("data: "))["waiting"])

    return await asyncio.wait_for(read(), 10)


async def test_agent_sees_queue_live_takes_first_and_citizen_is_joined(
    booking_client: Any, signer: JoinTokenSigner
) -> None:
    client = await booking_client()
    ask = {"motif_id": DEMO_MOTIF, "citizen": {"name": "Première"}}
    first = await (await client.post("/api/queue", json=ask)).json()
    assert first["status"] == "waiting" and first["position"] == 1

    login = await client.post(
        "/api/auth/login",
        json={"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"},
    )
    csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
    stream = await client.get("/api/agent/queue/events")
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    assert [w["citizen_name"] for w in await _next_queue_event(stream)] == ["Première"]

    second = await (
        await client.post("/api/queue", json={**ask, "citizen": {"name": "Seconde"}})
    ).json()
    assert second["position"] == 2
    live = await _next_queue_event(stream)
    assert [w["citizen_name"] for w in live] == ["Première", "Seconde"]

    taken = await client.post("/api/agent/queue/take", headers=csrf)
    assert taken.status == 200
    host = await taken.json()
    assert [w["citizen_name"] for w in await _next_queue_event(stream)] == ["Seconde"]
    stream.close()

    waiting_side = await (await client.get(f"/api/queue/{first['wait_token']}")).json()
    assert waiting_side["status"] == "taken"
    guest = signer.verifier.verify(waiting_side["join_url"].split("#token=")[1])
    assert guest.room == signer.verifier.verify(host["token"]).room == host["booking"]["id"]
    assert guest.role == "guest"
    still = await (await client.get(f"/api/queue/{second['wait_token']}")).json()
    assert still["status"] == "waiting" and still["position"] == 1


async def test_queue_is_offered_only_to_agents_of_the_service_available_now(
    booking_client: Any,
) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.booking.test_availability import ADMIN, ALL_DAY, sign_in

    client = await booking_client()
    admin = await sign_in(client, ADMIN)
    password = "mot-de-passe-solide"
    ids = {}
    for who in ("absent", "off-duty"):
        made = await client.post(
            "/api/admin/agents",
            json={"name": who, "email": f"{who}@demo.example", "password": password,
                  "service_id": "demo-caf-prestations"},
            headers=admin,
        )  # fmt: skip
        assert made.status == 201, await made.text()
        ids[who] = (await made.json())["id"]
    now = datetime.now(UTC)
    # "absent" works around the clock but is away for the next two hours; "off-duty" has
    # no hours at all. The demo agent works around the clock.
    for who, rules in (("absent", ALL_DAY), ("off-duty", [])):
        saved = await client.put(
            f"/api/agents/{ids[who]}/availability", json={"rules": rules}, headers=admin
        )
        assert saved.status == 200
    away = await client.post(
        f"/api/agents/{ids['absent']}/absences",
        json={"start": (now - timedelta(minutes=5)).isoformat(),
              "end": (now + timedelta(hours=2)).isoformat()},
        headers=admin,
    )  # fmt: skip
    assert away.status == 201

    client.session.cookie_jar.clear()
    ask = {"motif_id": DEMO_MOTIF, "citizen": {"name": "Pressée"}}
    waiting = await (await client.post("/api/queue", json=ask)).json()
    assert waiting["agents_available"] == 1

    seen = {}
    for who, email in (("absent", "absent@demo.example"), ("off-duty", "off-duty@demo.example"),
                       ("demo", "agent@demo.visioguichet.fr")):  # fmt: skip
        csrf = await sign_in(
            client, {"email": email, "password": "demo-agent-2026" if who == "demo" else password}
        )
        seen[who] = await (await client.get("/api/agent/queue")).json()
        if who != "demo":
            refused = await client.post("/api/agent/queue/take", headers=csrf)
            assert refused.status == 409
            assert (await refused.json())["error"] == "not-available"
    assert seen["absent"] == {"available": False, "waiting": []}
    assert seen["off-duty"] == {"available": False, "waiting": []}
    assert seen["demo"]["available"] is True
    assert [w["citizen_name"] for w in seen["demo"]["waiting"]] == ["Pressée"]

    # The absence withdrawn, the agent sees the request at once, live, and may take it.
    admin = await sign_in(client, ADMIN)
    await client.delete(
        f"/api/agents/{ids['absent']}/absences/{(await away.json())['id']}", headers=admin
    )
    csrf = await sign_in(client, {"email": "absent@demo.example", "password": password})
    stream = await client.get("/api/agent/queue/events")
    assert [w["citizen_name"] for w in await _next_queue_event(stream)] == ["Pressée"]
    stream.close()
    taken = await client.post("/api/agent/queue/take", headers=csrf)
    assert taken.status == 200
    assert (await taken.json())["booking"]["agent"]["id"] == ids["absent"]


async def test_a_request_whose_page_stopped_asking_leaves_the_queue_within_seconds(
    booking_client: Any,
) -> None:
    """A requester closed the tab: the agent is not given that dead request while the
    one still waiting sits behind it."""
    client = await booking_client(queue_stale_after_s=1.0)
    ask = {"motif_id": DEMO_MOTIF, "citizen": {"name": "Partie"}}
    gone = await (await client.post("/api/queue", json=ask)).json()
    there = await (
        await client.post("/api/queue", json={**ask, "citizen": {"name": "Présente"}})
    ).json()
    assert there["position"] == 2
    login = await client.post(
        "/api/auth/login",
        json={"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"},
    )
    csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
    stream = await client.get("/api/agent/queue/events")
    assert [w["citizen_name"] for w in await _next_queue_event(stream)] == [
        "Partie",
        "Présente",
    ]
    for _ in range(5):  # only the second page keeps asking, as partner.js every 2 s
        await asyncio.sleep(0.3)
        status = await (await client.get(f"/api/queue/{there['wait_token']}")).json()
    assert status["position"] == 1
    assert [w["citizen_name"] for w in await _next_queue_event(stream)] == ["Présente"]
    stream.close()
    taken = await (await client.post("/api/agent/queue/take", headers=csrf)).json()
    assert taken["booking"]["citizen"]["name"] == "Présente"
    back = await (await client.get(f"/api/queue/{gone['wait_token']}")).json()
    assert back["status"] == "waiting" and back["position"] == 1  # its page came back
