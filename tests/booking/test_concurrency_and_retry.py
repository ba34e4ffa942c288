"""The database picks exactly one winner per slot; mail survives an SMTP outage."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.booking.conftest import booking_body, first_free_slot


async def test_twenty_concurrent_requests_for_one_slot_get_exactly_one_201(
    booking_client: Any,
) -> None:
    # Twenty citizens, one address here: the per-client booking limit is not under test.
    client = await booking_client(public_booking_burst=0)
    slot = await first_free_slot(client)
    bodies = [
        booking_body(slot["start"], name=f"Usager {i}", email=f"usager{i}@example.org")
        for i in range(20)
    ]
    responses = await asyncio.gather(*(client.post("/api/bookings", json=b) for b in bodies))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19


async def test_mail_queued_while_smtp_is_down_arrives_once_it_is_back(
    booking_client: Any, smtp_server: Any
) -> None:
    smtp_server.stop()
    client = await booking_client(smtp_url=f"smtp://127.0.0.1:{smtp_server.port}")
    slot = await first_free_slot(client)
    response = await client.post("/api/bookings", json=booking_body(slot["start"]))
    assert response.status == 201
    await asyncio.sleep(1.5)  # at least one failed attempt while the server is down
    assert smtp_server.mailbox.messages == []
    smtp_server.start()
    [mail] = await smtp_server.mailbox.wait_for(1, within_s=20)
    assert mail["To"] == "jeanne@example.org"
