"""The whole service as a user starts it: one process, embedded defaults, demo data.

Proves the parts are wired: pages, booking API, outbox mail with a join link whose
token signalling accepts, /metrics and /healthz.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import re
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from tests.support.server import RunningService

pytestmark = pytest.mark.timeout(120)


def post_json(service: RunningService, path: str, body: object) -> tuple[int, Any]:
    request = urllib.request.Request(
        service.base_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def first_video_slot(service: RunningService) -> tuple[str, dict[str, Any]]:
    for svc in service.get_json("/api/services"):
        for motif in svc["motifs"]:
            if not motif["video"]:
                continue
            start = date.today() + timedelta(days=1)
            end = start + timedelta(days=14)
            slots = service.get_json(f"/api/motifs/{motif['id']}/slots?from={start}&to={end}")
            if slots["slots"]:
                return motif["id"], slots["slots"][0]
    raise AssertionError("the demo data offers no video slot in the next two weeks")


def test_pages_health_and_metrics_are_served(service: RunningService) -> None:
    for path in ("/", "/book", "/call", "/agent"):
        with urllib.request.urlopen(service.base_url + path, timeout=10) as response:
            assert response.status == 200
            assert "text/html" in response.headers["Content-Type"]
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert service.get_json("/healthz") == {"status": "ok"}
    with urllib.request.urlopen(service.base_url + "/metrics", timeout=10) as response:
        text = response.read().decode()
    assert "visioguichet_signaling_" in text
    assert "visioguichet_sfu_" in text


def test_openapi_document_is_served(service: RunningService) -> None:
    document = service.get_json("/api/openapi.json")
    assert document["openapi"].startswith("3.")
    assert "/bookings" in " ".join(document["paths"])


async def test_booking_mails_a_join_link_that_signalling_accepts(service: RunningService) -> None:
    motif_id, slot = first_video_slot(service)
    status, booking = post_json(
        service,
        "/api/bookings",
        {
            "motif_id": motif_id,
            "start": slot["start"],
            "citizen": {"name": "Jeanne Martin", "email": "jeanne.martin@example.org"},
        },
    )
    assert status == 201, booking

    # The outbox worker writes the confirmation as an .eml file (no SMTP configured).
    mail = None
    for _ in range(100):
        mails = [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in service.outbox()
        ]
        mail = next((m for m in mails if m["To"] and "jeanne.martin@example.org" in m["To"]), None)
        if mail is not None:
            break
        await asyncio.sleep(0.1)
    assert mail is not None, "no confirmation mail in the outbox after 10 s"
    parts = list(mail.walk())
    calendars = [
        p
        for p in parts
        if p.get_content_type() == "text/calendar" or (p.get_filename() or "").endswith(".ics")
    ]
    assert calendars, "confirmation has no calendar attachment"
    ics = calendars[0].get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert "BEGIN:VEVENT" in ics and "DTSTART" in ics
    body = "\n".join(p.get_content() for p in parts if p.get_content_type() == "text/plain")
    match = re.search(r"(http://127\.0\.0\.1:\d+/call#token=[A-Za-z0-9_\-.]+)", body)
    assert match, f"no join link in the mail body:\n{body}"
    token = match.group(1).split("#token=", 1)[1]

    async with aiohttp.ClientSession() as session, session.ws_connect(service.ws_url) as ws:
        await ws.send_json({"type": "join", "token": token, "protocol": 1})
        frame = await ws.receive_json(timeout=10)
        # Signalling knows the link; it opens a quarter of an hour before the slot.
        assert (frame["type"], frame["code"]) == ("error", "token-not-yet-valid"), frame
        opens = datetime.fromisoformat(slot["start"]) - timedelta(minutes=15)
        assert frame["not_before"] == opens.timestamp()
        await ws.send_json({"type": "join", "token": "forged.token", "protocol": 1})
        error = await ws.receive_json(timeout=10)
        assert error["type"] == "error"
