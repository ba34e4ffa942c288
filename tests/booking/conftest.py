"""A real booking application (mounted under /api as in production), a real join-token
signer, real SQLite or PostgreSQL, and a real aiosmtpd SMTP server."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from itertools import pairwise
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from booking_api import BookingConfig, create_app
from visioguichet.join_token import JoinTokenSigner

DEMO_MOTIF = "demo-motif-info"  # 20 min, video, 30 min notice


def _postgres_url() -> str | None:
    return os.environ.get("TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/booking.db"
        return
    url = _postgres_url()
    if url is None:
        pytest.skip(
            "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        )
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.skip(f"PostgreSQL at TEST_DATABASE_URL is unreachable: {exc}")
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()
    yield url


@dataclass
class Mailbox:
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    async def wait_for(self, count: int, within_s: float = 20.0) -> list[EmailMessage]:
        deadline = time.monotonic() + within_s
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mails, got {len(self.messages)}")
            await asyncio.sleep(0.05)
        return self.messages


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Any:
    server = SmtpServer(free_port(), Mailbox())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def signer() -> JoinTokenSigner:
    return JoinTokenSigner(Ed25519PrivateKey.generate())


BookingClientFactory = Callable[..., Any]


@pytest.fixture
def booking_client(
    aiohttp_client: Any, tmp_path: Path, database_url: str, signer: JoinTokenSigner
) -> BookingClientFactory:
    """Builds the service as the composition does: booking app mounted at /api."""

    async def build(**overrides: Any) -> TestClient:
        settings: dict[str, Any] = {
            "database_url": database_url,
            "data_dir": tmp_path / "data",
            "public_base_url": "http://127.0.0.1:8080",
            "demo": True,
            "mail_retry_base_s": 1.0,
            "mail_retry_max_s": 2.0,
            "worker_poll_s": 0.2,
        }
        config = BookingConfig(**(settings | overrides))
        root = web.Application()
        booking_app = create_app(config, signer)
        root.add_subapp("/api", booking_app)
        return await aiohttp_client(root)

    return build


async def bookable_slots(client: TestClient, motif_id: str = DEMO_MOTIF) -> list[dict[str, Any]]:
    """The motif's free slots, those too close to now for the minimum notice left out."""
    response = await client.get(f"/api/motifs/{motif_id}/slots")
    assert response.status == 200
    soon = datetime.now(UTC) + timedelta(hours=1)  # clear of the minimum notice
    return [
        s for s in (await response.json())["slots"] if datetime.fromisoformat(s["start"]) > soon
    ]


async def first_free_slot(client: TestClient, motif_id: str = DEMO_MOTIF) -> dict[str, Any]:
    slots = await bookable_slots(client, motif_id)
    assert slots, "the demo agent has slots every weekday within two weeks"
    return slots[0]


async def free_slot_and_a_later_one_that_day(
    client: TestClient, motif_id: str = DEMO_MOTIF
) -> tuple[dict[str, Any], str]:
    """The first free slot that another free slot follows on the same Paris day (a slot
    taken just before midnight has none), with that other slot's start."""
    for slot, following in pairwise(await bookable_slots(client, motif_id)):
        if following["start"][:10] == slot["start"][:10]:  # Paris dates (+01:00/+02:00)
            return slot, following["start"]
    raise AssertionError("the demo agent has several slots a day within two weeks")


def booking_body(start: str, **citizen: Any) -> dict[str, Any]:
    return {
        "motif_id": DEMO_MOTIF,
        "start": start,
        "citizen": citizen or {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
