"""The served /metrics of the composed service (booking, signalling and SFU in one app,
real SQLite and WebSockets): join time and the event loop's lag as histograms."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.composition.test_booking_admission import (
    AGENT,
    FRAME_TIMEOUT_S,
    Service,
    next_of,
)
from visioguichet.app import build_app
from visioguichet.settings import Settings

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def composed(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(data_dir=tmp_path, demo=True, ice_addresses=("127.0.0.1",))
    client: TestClient = await aiohttp_client(build_app(settings))
    login = await client.post("/api/auth/login", json=AGENT)
    assert login.status == 200, await login.text()
    yield Service(client, tmp_path, {"X-CSRF-Token": (await login.json())["csrf_token"]})


async def scrape(service: Service) -> str:
    response = await service.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await response.text()


def sample(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


async def test_a_join_is_timed_from_admission_to_the_room_and_a_lobby_wait_is_not(
    composed: Service,
) -> None:
    booking = await composed.book()
    composed.move(booking["id"], starts_in_s=5 * 60)
    text = await scrape(composed)
    assert "# TYPE visioguichet_join_seconds histogram" in text
    assert sample(text, "visioguichet_join_seconds_count") == 0

    host, joined = await composed.join(await composed.host_token(booking["id"]))
    assert joined["type"] == "joined", joined
    guest, waiting = await composed.join(await composed.guest_token(booking))
    assert waiting["type"] == "lobby-waiting", waiting
    guest_id = (await next_of(host, "lobby-waiting"))["participant"]["id"]
    await asyncio.sleep(0.5)  # the guest waits for the host: not join time
    await host.send_json({"type": "admit", "participant_id": guest_id})
    assert (await next_of(guest, "joined"))["type"] == "joined"

    deadline = time.monotonic() + FRAME_TIMEOUT_S
    while sample(text := await scrape(composed), "visioguichet_join_seconds_count") < 1:
        assert time.monotonic() < deadline, "the host's join was never timed"
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # the guest's participant-joined, delivered by now
    text = await scrape(composed)
    assert sample(text, "visioguichet_join_seconds_count") == 1
    assert 0 < sample(text, "visioguichet_join_seconds_sum") < 0.5
    assert sample(text, 'visioguichet_join_seconds_bucket{le="+Inf"}') == 1
    await guest.close()
    await host.close()


async def test_the_event_loop_lag_is_sampled_while_the_service_runs(composed: Service) -> None:
    await asyncio.sleep(0.35)
    text = await scrape(composed)
    assert "# TYPE visioguichet_relay_loop_lag_seconds histogram" in text
    assert sample(text, "visioguichet_relay_loop_lag_seconds_count") >= 2
    assert "# HELP visioguichet_relay_loop_lag_seconds How late a 100 ms timer" in text
