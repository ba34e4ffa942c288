"""Datagrams aioice cannot parse: dropped, counted, and logged at most once a minute per source.

Anyone can send a datagram to an ICE port. aioice parses STUN without checking each
attribute's length (a 2-byte PRIORITY raises ``struct.error``) and its
``datagram_received`` lets that escape; raised into the socket reader it was printed as
a full traceback per datagram: 1 000 datagrams of 28 bytes made 726 kB of log. Here the
exception ends with the datagram, the owner's counter goes up, and one line per source
address a minute says what came in (with how many were not logged since the last line).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

LOG_INTERVAL_S = 60.0
MAX_SOURCES = 1024  # source addresses remembered for the rate limit (then: oldest forgotten)

OnMalformed = Callable[[Any, Exception], None]


def guard(protocol: Any, on_malformed: OnMalformed) -> None:
    """Wrap ``protocol.datagram_received`` so that nothing it raises leaves it.

    Idempotent. Whatever replaces ``datagram_received`` later (the fast path's native
    ingress) calls the guarded one for what it does not handle itself (STUN, DTLS).
    """
    original = protocol.datagram_received
    if getattr(original, "guards_malformed", False):
        return

    def datagram_received(data: bytes, addr: Any) -> None:
        try:
            original(data, addr)
        except Exception as error:
            on_malformed(addr, error)

    datagram_received.guards_malformed = True  # type: ignore[attr-defined]
    protocol.datagram_received = datagram_received


class SourceRateLimit:
    """At most one log line per source address per ``interval_s``, over a bounded table."""

    def __init__(self, interval_s: float = LOG_INTERVAL_S, max_sources: int = MAX_SOURCES) -> None:
        self.interval_s = interval_s
        self.max_sources = max_sources
        self._sources: dict[str, list[float | int]] = {}  # host → [last logged at, unlogged]

    def due(self, host: str, now: float | None = None) -> int | None:
        """The count not logged since this source's last line when a line is due, else None."""
        now = time.monotonic() if now is None else now
        entry = self._sources.get(host)
        if entry is not None and now - entry[0] < self.interval_s:
            entry[1] = int(entry[1]) + 1
            return None
        unlogged = 0 if entry is None else int(entry[1])
        if entry is None and len(self._sources) >= self.max_sources:
            self._forget_old(now)
        self._sources.pop(host, None)
        self._sources[host] = [now, 0]  # insertion order: oldest line first
        return unlogged

    def _forget_old(self, now: float) -> None:
        for host in [h for h, e in self._sources.items() if now - e[0] >= self.interval_s]:
            del self._sources[host]
        while len(self._sources) >= self.max_sources:
            del self._sources[next(iter(self._sources))]


_rate_limit = SourceRateLimit()  # one per process: a source spraying every port logs once


def report(addr: Any, error: Exception, **context: Any) -> None:
    """Log one malformed datagram, if its source's line is due."""
    host = str(addr[0]) if isinstance(addr, tuple) and addr else str(addr)
    port = addr[1] if isinstance(addr, tuple) and len(addr) > 1 else None
    unlogged = _rate_limit.due(host)
    if unlogged is None:
        return
    log.warning(
        "sfu_malformed_datagram",
        source=host,
        port=port,
        error=f"{_kind(error)}: {error}"[:200],
        not_logged_since_last=unlogged,
        **context,
    )


def _kind(error: Exception) -> str:
    kind = type(error)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
