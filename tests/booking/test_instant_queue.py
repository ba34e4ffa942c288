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
