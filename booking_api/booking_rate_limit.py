"""How fast one client may book without an account.

Public booking needs no account, so nothing but the client's address tells a person
booking their appointment from a script filling an agent's week with fake ones. A token
bucket per client lets a family book a few appointments in a row (the burst) and a
shared connection (a library, a mobile operator's NAT, a France Services point without
a staff account) keep booking at a human pace, while a loop is stopped after the burst.

Counted in the process's memory: a node's restart forgets the counts, which only lets a
client start again with a full burst; across nodes each keeps its own bucket, so a
client whose requests a proxy spreads over N nodes gets up to N bursts. That is kept
on purpose: the limit only has to stop a script, not count exactly, and a shared
counter would put a database or Redis round trip on every public booking.
IPv6 clients are keyed by their /64, the block one home or phone gets.
"""

from __future__ import annotations

import ipaddress
import math
import time
from dataclasses import dataclass, field

from booking_api.errors import ApiError

# Bookings allowed at once, and the sustained rate after that.
DEFAULT_BURST = 10
DEFAULT_PER_HOUR = 30.0
# Buckets kept before the fullest are forgotten (a full bucket holds no information).
MAX_TRACKED_CLIENTS = 50_000


def client_key(address: str) -> str:
    """The key a client's bookings are counted under."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else parsed)


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class BookingRateLimit:
    """A token bucket per client: ``burst`` bookings at once, ``per_hour`` after that."""

    burst: int = DEFAULT_BURST
    per_hour: float = DEFAULT_PER_HOUR
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, address: str, now: float | None = None) -> None:
        """Counts one booking for the client, or raises a 429 saying when to retry."""
        if self.burst <= 0:
            return  # limit switched off
        now = time.monotonic() if now is None else now
        key = client_key(address)
        rate = self.per_hour / 3600.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                self._forget_refilled(now, rate)
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            wait_s = math.ceil((1.0 - bucket.tokens) / rate) if rate > 0 else 3600
            raise ApiError(
                429,
                "too-many-bookings",
                "Trop de rendez-vous pris depuis cette connexion. "
                f"Réessayez dans {max(1, math.ceil(wait_s / 60))} minute(s), "
                "ou appelez le service.",
                headers={"Retry-After": str(wait_s)},
            )
        bucket.tokens -= 1.0

    def give_back(self, address: str) -> None:
        """Returns the booking ``take`` counted, when it did not happen after all."""
        bucket = self._buckets.get(client_key(address))
        if bucket is not None:
            bucket.tokens = min(float(self.burst), bucket.tokens + 1.0)

    def _forget_refilled(self, now: float, rate: float) -> None:
        full = [
            key
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * rate >= self.burst
        ]
        for key in full or list(self._buckets)[: len(self._buckets) // 2]:
            del self._buckets[key]
