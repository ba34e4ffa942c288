"""Test-only impairment of the SFU's send path to one subscriber: loss and a rate cap.

The machine's kernel has no ``netem``; this shim stands in for it. It sits where the
SFU hands datagrams to the socket for one peer connection (RTP on the fast path and
RTCP on aiortc's), drops a share of them at random and drops whatever exceeds a
token-bucket rate (like ``tc tbf`` with a burst of ``BURST_S`` of the rate, so the
packets of one video frame, sent back to back, pass when the average fits). It is only
reachable when ``SfuConfig.allow_test_impairment`` is set.
"""

from __future__ import annotations

import random
import time

BURST_S = 0.25


class Impairment:
    def __init__(self) -> None:
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

    def admit(self, size: int) -> bool:
        """Whether a datagram of ``size`` bytes gets through the impaired link."""
        if self.loss and random.random() < self.loss:
            self.dropped += 1
            return False
        if self.rate_bps is not None:
            now = time.monotonic()
            capacity = self.rate_bps * BURST_S / 8
            self._tokens = min(capacity, self._tokens + (now - self._last) * self.rate_bps / 8)
            self._last = now
            if self._tokens < size:
                self.dropped += 1
                return False
            self._tokens -= size
        return True
