"""Test-only impairment of the SFU's send path to one subscriber: loss and a rate cap.

The machine's kernel has no ``netem``; this shim stands in for it. It sits where the
SFU hands datagrams to ICE for one peer connection, drops a share of them at random
and drops whatever exceeds a token-bucket rate (like ``tc tbf`` with a small burst).
It is only reachable when ``SfuConfig.allow_test_impairment`` is set.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable

BURST_S = 0.05


class Impairment:
    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self._send = send
        self.loss = 0.0
        self.rate_bps: int | None = None
        self._tokens = 0.0
        self._last = time.monotonic()
        self.dropped = 0

    def configure(self, loss: float = 0.0, rate_bps: int | None = None) -> None:
        if not 0.0 <= loss <= 1.0:
            raise ValueError("loss must be within 0..1")
        self.loss = loss
        self.rate_bps = rate_bps
        self._tokens = 0.0 if rate_bps is None else rate_bps * BURST_S / 8
        self._last = time.monotonic()

    async def send(self, data: bytes) -> None:
        if self.loss and random.random() < self.loss:
            self.dropped += 1
            return
        if self.rate_bps is not None:
            now = time.monotonic()
            capacity = self.rate_bps * BURST_S / 8
            self._tokens = min(capacity, self._tokens + (now - self._last) * self.rate_bps / 8)
            self._last = now
            if self._tokens < len(data):
                self.dropped += 1
                return
            self._tokens -= len(data)
        await self._send(data)
