"""Limits on password guessing that an attacker cannot turn into a lockout of the real user.

Failed sign-ins are counted under three keys within ``login_window_s`` (300 s):

- **account and client** — ``login_max_failures`` (5) failures of one client on one
  account lock that pair until the oldest of them leaves the window. The same person
  mistyping is stopped here; nobody else is.
- **client** — ``login_client_max_failures`` (20) failures from one client across all
  accounts lock that client: one address spraying a password over many accounts.
- **account** — past ``login_account_max_failures`` (20) failures from all clients the
  account is never locked, only slowed: each attempt must wait 1 s after the account's
  last failure, doubling with each further failure up to ``login_account_backoff_max_s``
  (30 s). Guessing spread over many addresses is held to about two guesses a minute
  (under 3 000 a day) while the real user waits at most 30 s, and not at all when the
  attacker pauses.

The client is the resolved address (:mod:`booking_api.client_address`), so behind a
trusted reverse proxy each citizen and agent is counted apart. A refused attempt is not
counted, and its password is not checked: a 429 tells nothing about it.
``login_failures.at`` holds milliseconds: a one-second backoff needs finer than seconds.
Failures are rows in the database, not counts in memory, so several nodes sharing one
database enforce one limit: guesses spread over the nodes add up.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from booking_api.config import BookingConfig
from booking_api.db import Database
from booking_api.errors import ApiError
from booking_api.tokens import hash_secret, new_id


def _ms(unix_s: float) -> int:
    return int(unix_s * 1000)


@dataclass(frozen=True, slots=True)
class LoginKeys:
    account: str
    pair: str
    client: str

    @classmethod
    def of(cls, email: str, client: str) -> LoginKeys:
        account = email.strip().lower()
        return cls(
            account=f"account:{hash_secret(account)}",
            pair=f"pair:{hash_secret(account + chr(0) + client)}",
            client=f"client:{hash_secret(client)}",
        )


def too_many_attempts(retry_after_s: float) -> ApiError:
    seconds = max(1, math.ceil(retry_after_s))
    return ApiError(
        429,
        "too-many-attempts",
        "Trop de tentatives de connexion. Réessayez dans quelques minutes."
        if seconds > 60
        else f"Trop de tentatives de connexion. Réessayez dans {seconds} secondes.",
        headers={"Retry-After": str(seconds)},
    )


class LoginThrottle:
    """Counts failed sign-ins in ``login_failures`` and refuses attempts over the limits."""

    def __init__(self, config: BookingConfig, db: Database) -> None:
        self._config = config
        self._db = db

    async def _failures(self, key: str, since: float) -> tuple[int, float | None, float | None]:
        """How many failures under ``key`` since ``since``, the oldest and the latest
        (Unix seconds)."""
        row = await self._db.fetch_one(
            "SELECT COUNT(*) AS n, MIN(at) AS first, MAX(at) AS last "
            "FROM login_failures WHERE key = ? AND at > ?",
            key,
            _ms(since),
        )
        if not row:
            return 0, None, None
        first, last = row["first"], row["last"]
        return (
            int(row["n"]),
            None if first is None else int(first) / 1000,
            None if last is None else int(last) / 1000,
        )

    async def check(self, keys: LoginKeys) -> None:
        """Raise a 429 with ``Retry-After`` if this attempt must wait."""
        config = self._config
        now = time.time()
        window = config.login_window_s
        since = now - window
        for key, limit in (
            (keys.pair, config.login_max_failures),
            (keys.client, config.login_client_max_failures),
        ):
            count, first, _last = await self._failures(key, since)
            if count >= limit and first is not None:
                # Free again once enough of the window's failures have aged out; the
                # oldest one leaving is the earliest that can happen.
                raise too_many_attempts(first + window - now)
        count, _first, last = await self._failures(keys.account, since)
        excess = count - config.login_account_max_failures
        if excess >= 0 and last is not None:
            # The exponent is bounded: a burst of concurrent guesses can push the count
            # far past the threshold, and 2.0**1024 does not fit a float.
            backoff = min(2.0 ** min(excess, 32), config.login_account_backoff_max_s)
            wait = last + backoff - now
            if wait > 0:
                raise too_many_attempts(wait)

    async def record_failure(self, keys: LoginKeys) -> None:
        now = time.time()
        for key in (keys.account, keys.pair, keys.client):
            await self._db.execute(
                "INSERT INTO login_failures (id, key, at) VALUES (?, ?, ?)",
                new_id(),
                key,
                _ms(now),
            )
        # Nothing older than the window is ever read again.
        await self._db.execute(
            "DELETE FROM login_failures WHERE at < ?", _ms(now - self._config.login_window_s)
        )
