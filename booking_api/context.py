"""The state one booking application shares between its handlers and workers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from booking_api.booking_rate_limit import BookingRateLimit
from booking_api.config import BookingConfig
from booking_api.db import Database
from booking_api.interfaces import JoinTokenIssuer, LiveCalls
from booking_api.queue_hub import QueueHub
from booking_api.site_identity import IdentityCache


@dataclass
class BookingContext:
    config: BookingConfig
    join_tokens: JoinTokenIssuer
    db: Database | None = None
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    queue_hub: QueueHub = field(default_factory=QueueHub)
    live_calls: LiveCalls | None = None  # set by the composition (JoinGate)
    booking_rate_limit: BookingRateLimit = field(default_factory=BookingRateLimit)
    site_identity: IdentityCache = field(init=False)

    def __post_init__(self) -> None:
        self.site_identity = IdentityCache(self.config)
        self.booking_rate_limit = BookingRateLimit(
            self.config.public_booking_burst, self.config.public_booking_per_hour
        )

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the booking database is not open yet")
        return self.db


CONTEXT: web.AppKey[BookingContext] = web.AppKey("booking_context", BookingContext)


def context_of(request: web.Request) -> BookingContext:
    return request.config_dict[CONTEXT]
