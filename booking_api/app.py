"""Builds the booking aiohttp application the composition mounts under ``/api``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from booking_api import (
    views_admin,
    views_agent,
    views_auth,
    views_availability,
    views_closures,
    views_manage,
    views_participant,
    views_public,
    views_queue,
    views_reschedule,
    views_short_links,
    views_site,
    views_staff,
)
from booking_api.call_events import CallEventStore
from booking_api.config import BookingConfig
from booking_api.context import CONTEXT, BookingContext
from booking_api.db import open_database
from booking_api.demo import seed_demo
from booking_api.errors import json_errors
from booking_api.housekeeping import Housekeeper
from booking_api.interfaces import CallEventSink, JoinTokenIssuer
from booking_api.join_gate import JoinGate
from booking_api.migrations import apply_migrations
from booking_api.openapi import openapi_document
from booking_api.operator_site import OperatorSite
from booking_api.outbox import OutboxSender
from booking_api.queue_hub import PostgresQueueHub

log = structlog.get_logger(__name__)

CALL_EVENTS: web.AppKey[CallEventSink] = web.AppKey("booking_call_events", CallEventSink)
JOIN_GATE: web.AppKey[JoinGate] = web.AppKey("booking_join_gate", JoinGate)
OPERATOR_SITE: web.AppKey[OperatorSite] = web.AppKey("booking_operator_site", OperatorSite)


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document())


def create_app(config: BookingConfig, join_tokens: JoinTokenIssuer) -> web.Application:
    app = web.Application(
        middlewares=[json_errors], client_max_size=config.upload_max_bytes + 65536
    )
    ctx = BookingContext(config=config, join_tokens=join_tokens)
    app[CONTEXT] = ctx
    app[CALL_EVENTS] = CallEventStore(lambda: ctx.database)
    app[JOIN_GATE] = JoinGate(ctx)
    app[OPERATOR_SITE] = OperatorSite(ctx)
    app.router.add_get("/openapi.json", _openapi)
    for module in (
        views_public,
        views_manage,
        views_auth,
        views_agent,
        views_participant,
        views_staff,
        views_queue,
        views_availability,
        views_admin,
        views_closures,
        views_reschedule,
        views_short_links,
        views_site,
    ):
        app.router.add_routes(module.routes)

    async def storage_and_workers(_app: web.Application) -> AsyncIterator[None]:
        ctx.db = await open_database(config.database_url)
        sender: OutboxSender | None = None
        housekeeper: Housekeeper | None = None
        try:
            await apply_migrations(ctx.db)
            if config.demo:
                await seed_demo(ctx.db)
            if ctx.db.dialect == "postgresql":
                # Several nodes may share this database: queue changes reach all of them.
                hub = PostgresQueueHub(config.database_url, ctx.db)
                hub.start()
                ctx.queue_hub = hub
            sender = OutboxSender(config, ctx.db, ctx.outbox_wakeup)
            sender.start()
            housekeeper = Housekeeper(ctx)
            housekeeper.start()
            yield
        finally:
            await ctx.queue_hub.close()
            if housekeeper is not None:
                await housekeeper.close()
            if sender is not None:
                await sender.close()
            await ctx.db.close()
            ctx.db = None

    app.cleanup_ctx.append(storage_and_workers)
    return app


async def migrate(config: BookingConfig) -> int:
    """Apply pending migrations (``visioguichet migrate``); returns the schema version."""
    db = await open_database(config.database_url)
    try:
        return await apply_migrations(db)
    finally:
        await db.close()


async def create_user(
    config: BookingConfig,
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    organisation_id: str | None = None,
    service_id: str | None = None,
) -> str:
    """Create a staff account (``visioguichet create-agent``); returns its id."""
    from booking_api.auth import insert_user

    db = await open_database(config.database_url)
    try:
        await apply_migrations(db)
        if config.demo:
            await seed_demo(db)
        return await insert_user(
            db,
            email=email,
            password=password,
            name=name,
            role=role,
            organisation_id=organisation_id,
            service_id=service_id,
        )
    finally:
        await db.close()
