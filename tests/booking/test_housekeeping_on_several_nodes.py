"""Every node runs the housekeeper: two of them purging at the same moment purge each
booking once (PostgreSQL; SQLite is one process's)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from booking_api.context import CONTEXT
from booking_api.db import open_database
from booking_api.housekeeping import purge_personal_data
from tests.booking.conftest import bookable_slots, booking_body


async def test_two_nodes_purging_together_purge_each_booking_once(
    booking_client: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several nodes share PostgreSQL, never one SQLite file")
    client = await booking_client(purge_after_days=30)
    slots = (await bookable_slots(client))[:6]
    for slot in slots:
        response = await client.post("/api/bookings", json=booking_body(slot["start"]))
        assert response.status == 201, await response.text()
    node_a = client.app._subapps[0][CONTEXT]
    row = await node_a.database.fetch_one("SELECT MAX(end_at) AS last FROM bookings")
    later = row["last"] + 31 * 86400
    node_b = dataclasses.replace(node_a, db=await open_database(database_url))
    try:
        counts = await asyncio.gather(
            purge_personal_data(node_a, now=later), purge_personal_data(node_b, now=later)
        )
    finally:
        await node_b.database.close()
    assert sum(counts) == len(slots), counts
    left = await node_a.database.fetch_one(
        "SELECT COUNT(*) AS n FROM bookings WHERE citizen_name IS NOT NULL"
    )
    assert left["n"] == 0
