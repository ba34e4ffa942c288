"""Password guessing is limited per account and per client without locking the real
user out: behind a trusted proxy each person is a client of their own."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from booking_api.config import BookingConfig
from booking_api.db import open_database
from booking_api.errors import ApiError
from booking_api.login_throttle import LoginKeys, LoginThrottle
from booking_api.migrations import apply_migrations

AGENT = "agent@demo.visioguichet.fr"
RIGHT = {"email": AGENT, "password": "demo-agent-2026"}
WRONG = {"email": AGENT, "password": "wrong-password"}
PROXIED = {"trusted_proxies": ("127.0.0.1",)}


async def _login(client: Any, body: dict[str, str], forwarded_for: str | None = None) -> Any:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post("/api/auth/login", json=body, headers=headers)


async def test_a_guesser_behind_the_proxy_does_not_lock_the_agent_out(
    booking_client: Any,
) -> None:
    client = await booking_client(login_max_failures=3, **PROXIED)
    attacker = [(await _login(client, WRONG, "203.0.113.9")).status for _ in range(4)]
    assert attacker == [401, 401, 401, 429]
    assert (await _login(client, RIGHT, "203.0.113.9")).status == 429
    assert (await _login(client, RIGHT, "198.51.100.7")).status == 200


async def test_failures_on_one_account_leave_the_client_free_on_another(
    booking_client: Any,
) -> None:
    client = await booking_client(login_max_failures=3)
    other = {"email": "nobody@example.org", "password": "guess"}
    # Without a trusted proxy a forged header changes nothing: one peer, one client.
    statuses = [(await _login(client, other, f"192.0.2.{n}")).status for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    assert (await _login(client, RIGHT)).status == 200


async def test_one_client_spraying_many_accounts_is_stopped(booking_client: Any) -> None:
    client = await booking_client(login_client_max_failures=3, **PROXIED)
    for n in range(3):
        body = {"email": f"user{n}@example.org", "password": "guess"}
        assert (await _login(client, body, "203.0.113.9")).status == 401
    refused = await _login(client, RIGHT, "203.0.113.9")
    assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
    assert (await _login(client, RIGHT, "198.51.100.7")).status == 200


async def test_guessing_from_many_addresses_only_slows_the_account_briefly(
    booking_client: Any,
) -> None:
    client = await booking_client(
        login_max_failures=2, login_account_max_failures=4, login_account_backoff_max_s=2.0,
        **PROXIED,
    )  # fmt: skip
    for address in ("203.0.113.1", "203.0.113.2"):
        assert [(await _login(client, WRONG, address)).status for _ in range(2)] == [401, 401]
    # At the account's threshold each attempt waits 1 s after the last failure, then 2 s.
    early = await _login(client, WRONG, "203.0.113.3")
    assert early.status == 429 and early.headers["Retry-After"] == "1"
    await asyncio.sleep(1)
    assert (await _login(client, WRONG, "203.0.113.3")).status == 401
    slowed = await _login(client, RIGHT, "198.51.100.7")
    assert slowed.status == 429, await slowed.text()
    retry_after = int(slowed.headers["Retry-After"])
    assert 1 <= retry_after <= 2  # the cap: the real user never waits long
    await asyncio.sleep(retry_after)
    assert (await _login(client, RIGHT, "198.51.100.7")).status == 200


async def test_a_burst_far_past_the_threshold_still_gets_a_short_wait(tmp_path: Any) -> None:
    """Concurrent guesses all pass the check before any is counted; however many land,
    the answer stays a 429 with the capped wait, never an error."""
    config = BookingConfig(data_dir=tmp_path, login_account_max_failures=1)
    db = await open_database(config.database_url)
    try:
        await apply_migrations(db)
        throttle = LoginThrottle(config, db)
        account = LoginKeys.of(AGENT, "any").account
        now_ms = int(time.time() * 1000)
        async with db.transaction() as tx:
            for n in range(1100):  # 2.0 ** 1099 would not fit a float
                await tx.execute(
                    "INSERT INTO login_failures (id, key, at) VALUES (?, ?, ?)",
                    f"f{n}",
                    account,
                    now_ms - n,
                )
        with pytest.raises(ApiError) as refused:
            await throttle.check(LoginKeys.of(AGENT, "198.51.100.7"))
        assert refused.value.status == 429
        assert refused.value.headers == {"Retry-After": "30"}
    finally:
        await db.close()
