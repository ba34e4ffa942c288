"""Join tokens follow their booking through the composed service (booking API, signalling
and SFU in one app, real SQLite, real WebSockets): none before a margin ahead of the
slot, none after a cancel or the end, and a live call ends when its booking is cancelled.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.booking.conftest import bookable_slots, booking_body, first_free_slot
from visioguichet.app import build_app
from visioguichet.join_token import load_or_create_signer
from visioguichet.settings import Settings

pytestmark = pytest.mark.timeout(60)

AGENT = {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}
FRAME_TIMEOUT_S = 10.0


@dataclass
class Service:
    client: TestClient
    data_dir: Path
    csrf: dict[str, str]

    @property
    def key_path(self) -> Path:
        return self.data_dir / "join-token.key"

    def move(self, booking_id: str, *, starts_in_s: float) -> None:
        """Shift a booking in the database (the API only books slots with notice)."""
        start = int(time.time() + starts_in_s)
        with sqlite3.connect(self.data_dir / "visioguichet.db") as db:
            db.execute(
                "UPDATE bookings SET start_at = ?, end_at = ? WHERE id = ?",
                (start, start + 20 * 60, booking_id),
            )

    async def book(self) -> dict[str, Any]:
        slot = await first_free_slot(self.client)
        response = await self.client.post("/api/bookings", json=booking_body(slot["start"]))
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def host_join(self, booking_id: str) -> aiohttp.ClientResponse:
        return await self.client.post(
            f"/api/agent/bookings/{booking_id}/join", json={}, headers=self.csrf
        )

    async def host_token(self, booking_id: str) -> str:
        response = await self.host_join(booking_id)
        assert response.status == 200, await response.text()
        return str((await response.json())["token"])

    async def guest_token(self, booking: dict[str, Any]) -> str:
        """A fresh guest link, minted from the booking as it is now (the manage page)."""
        view = await (await self.client.get(f"/api/manage/{manage_token(booking)}")).json()
        return token_of(view["join_url"])

    async def socket(self) -> aiohttp.ClientWebSocketResponse:
        return await self.client.ws_connect("/ws")

    async def join(self, token: str) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
        ws = await self.socket()
        await ws.send_json({"type": "join", "token": token, "protocol": 1, "id": "j"})
        return ws, await ws.receive_json(timeout=FRAME_TIMEOUT_S)


def token_of(url: str) -> str:
    return url.split("#token=", 1)[1]


def manage_token(booking: dict[str, Any]) -> str:
    return token_of(booking["manage_url"])


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    deadline = time.monotonic() + FRAME_TIMEOUT_S
    while time.monotonic() < deadline:
        frame = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
        if frame["type"] == kind:
            return dict(frame)
    raise AssertionError(f"no {kind} frame within {FRAME_TIMEOUT_S} s")


@pytest.fixture
async def service(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[Service]:
    settings = Settings(data_dir=tmp_path, demo=True, ice_addresses=("127.0.0.1",))
    client = await aiohttp_client(build_app(settings))
    login = await client.post("/api/auth/login", json=AGENT)
    assert login.status == 200, await login.text()
    csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
    yield Service(client, tmp_path, csrf)


async def test_links_open_a_margin_ahead_of_the_slot_and_say_when(service: Service) -> None:
    booking = await service.book()
    start = epoch(booking["start"])

    ws, refused = await service.join(token_of(booking["join_url"]))
    assert refused["type"] == "error" and refused["code"] == "token-not-yet-valid"
    assert refused["not_before"] == pytest.approx(start - 15 * 60)
    assert refused["field"] == "token" and "fatal" not in refused
    await ws.close()

    joined = await (await service.host_join(booking["id"])).json()
    assert epoch(joined["not_before"]) == pytest.approx(start - 30 * 60)
    ws, refused = await service.join(joined["token"])
    assert refused["code"] == "token-not-yet-valid"
    assert refused["not_before"] == pytest.approx(start - 30 * 60)
    await ws.close()


async def test_cancel_ends_the_live_call_and_refuses_every_token_of_the_booking(
    service: Service,
) -> None:
    booking = await service.book()
    service.move(booking["id"], starts_in_s=5 * 60)
    earlier_host_token = await service.host_token(booking["id"])
    guest_token = await service.guest_token(booking)
    host, joined = await service.join(await service.host_token(booking["id"]))
    assert joined["type"] == "joined", joined
    guest, waiting = await service.join(guest_token)
    assert waiting["type"] == "lobby-waiting", waiting

    cancelled = await service.client.post(f"/api/manage/{manage_token(booking)}/cancel")
    assert cancelled.status == 200, await cancelled.text()

    end = await next_of(host, "end")
    assert end["reason"] == "booking-cancelled" and end["message"]
    error = await next_of(guest, "error")
    assert (error["code"], error["fatal"]) == ("booking-cancelled", True)
    for ws in (host, guest):
        await ws.receive(timeout=FRAME_TIMEOUT_S)  # the close
        assert ws.closed

    for token in (earlier_host_token, guest_token):
        ws, refused = await service.join(token)
        assert (refused["type"], refused["code"]) == ("error", "booking-cancelled"), refused
        assert refused["field"] == "token"
        await ws.close()
    probe = await service.socket()
    await probe.send_json(
        {"type": "probe", "token": guest_token, "sdp": "v=0", "sources": {"0": "camera"}}
    )
    refused = await probe.receive_json(timeout=FRAME_TIMEOUT_S)
    assert (refused["type"], refused["code"]) == ("error", "booking-cancelled")
    await probe.close()

    minted = await service.host_join(booking["id"])
    assert minted.status == 409
    body = await minted.json()
    assert body["error"] == "booking-cancelled" and "annulé" in body["message"]

    # Only that booking's room is closed: a room that is no booking's (the operator's
    # load-test tokens) still opens to a token of the node's key.
    operator_token = load_or_create_signer(service.key_path).mint(
        room="load-1", role="host", subject="bot-1", name="Bot", expires_at=time.time() + 60
    )
    ws, joined = await service.join(operator_token)
    assert joined["type"] == "joined", joined
    await ws.close()


@pytest.mark.parametrize("outcome", ["done", "no-show"])
async def test_recorded_outcome_ends_the_call_and_later_joins(
    service: Service, outcome: str
) -> None:
    booking = await service.book()
    service.move(booking["id"], starts_in_s=-60)
    host_token = await service.host_token(booking["id"])
    host, joined = await service.join(host_token)
    assert joined["type"] == "joined", joined

    recorded = await service.client.post(
        f"/api/agent/bookings/{booking['id']}/outcome",
        json={"status": outcome},
        headers=service.csrf,
    )
    assert recorded.status == 200, await recorded.text()

    assert (await next_of(host, "end"))["reason"] == "booking-ended"
    await host.close()
    ws, refused = await service.join(host_token)
    assert refused["code"] == "booking-ended", refused
    await ws.close()
    minted = await service.host_join(booking["id"])
    assert minted.status == 409 and (await minted.json())["error"] == "booking-ended"


async def test_token_of_a_booking_moved_later_is_too_early_until_the_new_slot(
    service: Service,
) -> None:
    booking = await service.book()
    later = (await bookable_slots(service.client))[-1]
    service.move(booking["id"], starts_in_s=5 * 60)
    guest_token = await service.guest_token(booking)
    ws, waiting = await service.join(guest_token)
    assert waiting["type"] == "lobby-waiting", waiting
    await ws.close()

    moved = await service.client.post(
        f"/api/manage/{manage_token(booking)}/reschedule", json={"start": later["start"]}
    )
    assert moved.status == 200, await moved.text()

    ws, refused = await service.join(guest_token)
    assert refused["code"] == "too-early", refused
    assert refused["not_before"] == pytest.approx(epoch(later["start"]) - 15 * 60)
    await ws.close()
