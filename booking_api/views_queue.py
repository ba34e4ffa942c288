"""HTTP side of the instant queue: ask for a call now, follow one's position, and for
agents a live (Server-Sent Events) view of the queue and "take the first"."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from aiohttp import web

from booking_api import links, queue
from booking_api.api_requests import QueueRequest
from booking_api.auth import require_user, session_user
from booking_api.availability import is_available
from booking_api.bookings import load_booking
from booking_api.catalogue import get_motif
from booking_api.context import context_of
from booking_api.errors import ApiError, ValidationFailed, json_body, not_found
from booking_api.field_errors import FieldErrors

routes = web.RouteTableDef()
KEEPALIVE_S = 15.0


@routes.post("/queue")
async def ask_for_call_now(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    errors = FieldErrors()
    asked = errors.read(QueueRequest, body)
    motif = None
    if isinstance(body.get("motif_id"), str):
        motif = await get_motif(ctx.database, body["motif_id"])
    if motif is None:
        errors.add("motif_id", "unknown", "Motif inconnu.")
    elif not motif.video:
        errors.add("motif_id", "not-offered", "Ce motif n’est pas proposé en visio.")
    errors.raise_if_any()
    assert motif is not None and asked is not None
    name = asked.citizen.name
    partner_point_id = None
    user = await session_user(request)
    if user is not None and user.role == "partner":
        await require_user(request, "partner")  # CSRF check for the session
        if not asked.consent:
            raise ValidationFailed(
                {"consent": "Le consentement de l’usager est obligatoire."},
                codes={"consent": "consent-required"},
            )
        partner_point_id = user.partner_point_id
    _request_id, wait_token = await queue.enqueue(ctx.database, motif, name, partner_point_id)
    await ctx.queue_hub.notify()
    row = await queue.request_by_token(ctx.database, wait_token)
    assert row is not None
    status = await queue.status_for_waiting_side(ctx, row)
    return web.json_response(status | {"wait_token": wait_token}, status=201)


async def _by_token(request: web.Request) -> dict[str, object]:
    row = await queue.request_by_token(context_of(request).database, request.match_info["token"])
    if row is None:
        raise not_found("Demande inconnue.")
    return row


@routes.get("/queue/{token}")
async def waiting_status(request: web.Request) -> web.Response:
    row = await _by_token(request)
    return web.json_response(await queue.status_for_waiting_side(context_of(request), row))


@routes.post("/queue/{token}/leave")
async def leave_queue(request: web.Request) -> web.Response:
    ctx = context_of(request)
    row = await _by_token(request)
    if not await queue.leave(ctx.database, str(row["id"])):
        raise ApiError(409, "not-waiting", "Cette demande n’est plus en attente.")
    await ctx.queue_hub.notify()
    return web.json_response({"id": row["id"], "status": "left"})


async def _snapshot(request: web.Request, service_id: str, agent_id: str) -> dict[str, object]:
    """The service's waiting list, offered only to an agent available now (weekly rules,
    absences): others see an empty list and ``available: false``."""
    ctx = context_of(request)
    db = ctx.database
    if not await is_available(db, service_id, agent_id, datetime.now(UTC)):
        return {"available": False, "waiting": []}
    waiting = await queue.waiting_for_service(db, service_id, ctx.config.queue_stale_after_s)
    return {"available": True, "waiting": [w.public(i + 1) for i, w in enumerate(waiting)]}


def _service_of(user: object) -> str:
    service_id = getattr(user, "service_id", None)
    if not service_id:
        raise ApiError(409, "no-service", "Votre compte n’est rattaché à aucun service.")
    return str(service_id)


@routes.get("/agent/queue")
async def agent_queue(request: web.Request) -> web.Response:
    user = await require_user(request, "agent")
    return web.json_response(await _snapshot(request, _service_of(user), user.id))


@routes.get("/agent/queue/events")
async def agent_queue_events(request: web.Request) -> web.StreamResponse:
    """``event: queue`` with the whole waiting list at once and after every change."""
    user = await require_user(request, "agent")
    service_id = _service_of(user)
    hub = context_of(request).queue_hub
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    seen = hub.version
    last_sent = None
    last_write = 0.0
    # A request also leaves the list when its page stops asking, which no write
    # announces: the list is looked at again a few times within the stale time.
    recheck_s = min(KEEPALIVE_S, max(0.5, context_of(request).config.queue_stale_after_s / 3))
    try:
        while True:
            snapshot = json.dumps(await _snapshot(request, service_id, user.id))
            now = time.monotonic()
            if snapshot != last_sent:
                await response.write(f"event: queue\ndata: {snapshot}\n\n".encode())
                last_sent, last_write = snapshot, now
            elif now - last_write >= KEEPALIVE_S:
                await response.write(b": keep-alive\n\n")
                last_write = now
            seen = await hub.wait_change(seen, recheck_s)
    except (ConnectionResetError, ConnectionError):
        pass
    return response


@routes.post("/agent/queue/take")
async def take_first(request: web.Request) -> web.Response:
    user = await require_user(request, "agent")
    ctx = context_of(request)
    service_id = _service_of(user)
    if not await is_available(ctx.database, service_id, user.id, datetime.now(UTC)):
        raise ApiError(
            409, "not-available", "Vous n’êtes pas disponible maintenant (horaires ou absence)."
        )
    taken = await queue.take_first(ctx, user.id, service_id)
    if taken is None:
        raise ApiError(409, "queue-empty", "Personne n’attend pour le moment.")
    await ctx.queue_hub.notify()
    request_id, booking_id = taken
    booking = await load_booking(ctx.database, booking_id)
    assert booking is not None
    token = await links.mint_join_token(
        ctx, ctx.database, booking, role="host", subject=f"agent:{user.id}", name=user.name
    )
    return web.json_response(
        {
            "request_id": request_id,
            "booking": booking.public(),
            "token": token,
            "url": links.join_url(ctx, token),
        }
    )
