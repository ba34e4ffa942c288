"""What several nodes must agree on, with node processes sharing one PostgreSQL: each
mail sent once, the instant queue live on every node."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiosmtpd.controller import Controller

from booking_api.db import open_database
from booking_api.outbox import enqueue_mail
from tests.nodes.conftest import log_events
from tests.support.server import free_port, run_service

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

DEMO_MOTIF = "demo-motif-info"
DEMO_AGENT = {"email": "agent@demo.visioguichet.fr", "password": "demo-agent-2026"}


class SlowMailbox:
    """Takes 20 ms a mail, as a real relay does: room for two senders to overlap."""

    def __init__(self) -> None:
        self.subjects: list[str] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        self.subjects.append(
            str(message_from_bytes(envelope.content, policy=policy.default)["Subject"])
        )
        return "250 OK"


async def _enqueue(database_url: str, count: int) -> None:
    db = await open_database(database_url)
    try:
        for index in range(count):
            mail = EmailMessage()
            mail["From"] = "no-reply@visioguichet.localhost"
            mail["To"] = f"citizen{index}@example.org"
            mail["Subject"] = f"mail-{index}"
            mail.set_content("Votre rendez-vous.")
            async with db.transaction() as tx:
                await enqueue_mail(
                    tx,
                    kind="confirmation",
                    booking_id=None,
                    recipient=mail["To"],
                    message=str(mail),
                )
    finally:
        await db.close()


async def _outbox_state(database_url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(database_url, timeout=5)
    try:
        row = await conn.fetchrow(
            "SELECT COUNT(*) FILTER (WHERE attempts > 0 AND sent_at IS NULL) AS failed_once, "
            "COUNT(*) FILTER (WHERE sent_at IS NOT NULL) AS sent FROM outbox"
        )
    finally:
        await conn.close()
    assert row is not None
    return int(row["failed_once"]), int(row["sent"])


async def test_three_nodes_smtp_down_then_up_deliver_every_mail_exactly_once(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    smtp_port = free_port()
    mails = 60
    args = ("--nodes", "3", "--database-url", postgres_url, "--redis-url", redis_url)
    with run_service(tmp_path, smtp_url=f"smtp://127.0.0.1:{smtp_port}", extra_args=args) as nodes:
        deadline = time.monotonic() + 20
        while len(log_events(nodes.log_path, "node_started")) < 3:
            assert time.monotonic() < deadline, "three nodes did not start"
            await asyncio.sleep(0.1)
        await asyncio.sleep(2)  # every node's sender is polling
        await _enqueue(postgres_url, mails)
        deadline = time.monotonic() + 20
        while (await _outbox_state(postgres_url))[0] < mails:
            assert time.monotonic() < deadline, "the nodes did not try while SMTP was down"
            await asyncio.sleep(0.2)

        mailbox = SlowMailbox()
        smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        try:
            deadline = time.monotonic() + 40
            while (await _outbox_state(postgres_url))[1] < mails:
                assert time.monotonic() < deadline, f"{len(mailbox.subjects)} of {mails} mails sent"
                await asyncio.sleep(0.2)
            await asyncio.sleep(3)  # room for a duplicate to arrive
        finally:
            smtp.stop()
    received = Counter(mailbox.subjects)
    assert sorted(received) == sorted(f"mail-{i}" for i in range(mails))
    assert [s for s, n in received.items() if n > 1] == []


async def _next_waiting(stream: aiohttp.ClientResponse, within_s: float) -> list[str]:
    async def read() -> list[str]:
        event = None
        while True:
            line = (await stream.content.readline()).decode().strip()
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "queue":
                waiting = json.loads(line.removeprefix("data: "))["waiting"]
                return [w["citizen_name"] for w in waiting]

    return await asyncio.wait_for(read(), within_s)


async def test_an_instant_call_asked_on_node_a_reaches_an_agent_watching_on_node_b_at_once(
    tmp_path: Path, postgres_url: str
) -> None:
    args = ("--database-url", postgres_url, "--node-id")
    with (
        run_service(tmp_path / "a", extra_args=(*args, "a")) as node_a,
        run_service(tmp_path / "b", extra_args=(*args, "b")) as node_b,
    ):
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(node_b.base_url, cookie_jar=jar) as agent:
            login = await agent.post("/api/auth/login", json=DEMO_AGENT)
            assert login.status == 200, await login.text()
            stream = await agent.get("/api/agent/queue/events", timeout=aiohttp.ClientTimeout(60))
            assert await _next_waiting(stream, 10) == []
            async with aiohttp.ClientSession(node_a.base_url) as citizen:
                sent_at = time.monotonic()
                asked = await citizen.post(
                    "/api/queue", json={"motif_id": DEMO_MOTIF, "citizen": {"name": "Amina"}}
                )
                assert asked.status in (200, 201), await asked.text()
            # Well under the 15 s keep-alive that would otherwise bring it.
            assert await _next_waiting(stream, 3) == ["Amina"]
            print(f"seen on node B {1000 * (time.monotonic() - sent_at):.0f} ms after asking A")
            stream.close()
