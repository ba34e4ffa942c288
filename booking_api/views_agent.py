"""The agent console: the day's agenda, opening the call, recording the outcome,
cancelling on the service's side."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from booking_api import call_chat, call_guests, callbacks, links
from booking_api.access import ensure_access
from booking_api.api_requests import DayQuery, NewGuest, Outcome
from booking_api.auth import User, require_user
from booking_api.booking_records import BookingRecord
from booking_api.bookings import (
    cancel_booking,
    confirm_request,
    list_bookings,
    load_booking,
    set_outcome,
)
from booking_api.catalogue import paris_day_bounds
from booking_api.context import BookingContext, context_of
from booking_api.errors import ApiError, json_body, not_found
from booking_api.field_errors import read
from booking_api.join_gate import join_window, refusal_for
from booking_api.slots import PARIS, from_epoch, to_paris_iso
from booking_api.views_public import query_of

routes = web.RouteTableDef()

# No call for a booking that can no longer take place (an early one gets its token,
# which tells the call page from when it may be used).
_CLOSED = {
    "booking-cancelled": "Ce rendez-vous a été annulé : l’appel n’est plus possible.",
    "booking-ended": "Ce rendez-vous est terminé : l’appel n’est plus possible.",
}


async def _staff_booking(request: web.Request) -> tuple[User, BookingContext, BookingRecord]:
    """The signed-in agent or administrator, and the booking of the URL if theirs to act on."""
    user = await require_user(request, "agent", "admin")
    ctx = context_of(request)
    booking = ensure_access(
        user, await load_booking(ctx.database, request.match_info["booking_id"])
    )
    return user, ctx, booking


@routes.get("/agent/agenda")
async def agenda(request: web.Request) -> web.Response:
    user = await require_user(request, "agent", "admin")
    day = read(DayQuery, query_of(request)).date or datetime.now(PARIS).date()
    lo, hi = paris_day_bounds(day, day)
    db = context_of(request).database
    if user.role == "admin":
        bookings = await list_bookings(
            db,
            "s.organisation_id = ? AND b.start_at >= ? AND b.start_at < ?",
            user.organisation_id,
            lo,
            hi,
        )
    else:
        bookings = await list_bookings(
            db, "b.agent_id = ? AND b.start_at >= ? AND b.start_at < ?", user.id, lo, hi
        )
    asked = await callbacks.open_for_bookings(db, [b.id for b in bookings])
    listed = []
    for booking in bookings:
        item = booking.public()
        if booking.id in asked:
            item["callback"] = asked[booking.id].public()
        listed.append(item)
    return web.json_response({"date": day.isoformat(), "bookings": listed})


@routes.post("/agent/bookings/{booking_id}/join")
async def join(request: web.Request) -> web.Response:
    user, ctx, booking = await _staff_booking(request)
    refused = refusal_for(booking.status, booking.start, booking.end, "host", time.time())
    if refused is not None and refused.code in _CLOSED:
        raise ApiError(409, refused.code, _CLOSED[refused.code])
    token = await links.mint_join_token(
        ctx, ctx.database, booking, role="host", subject=f"agent:{user.id}", name=user.name
    )
    not_before, expires_at = join_window(booking.start, booking.end, "host")
    return web.json_response(
        {
            "token": token,
            "url": links.join_url(ctx, token),
            "room": booking.id,
            "not_before": datetime.fromtimestamp(not_before, UTC).isoformat(),
            "expires_at": datetime.fromtimestamp(expires_at, UTC).isoformat(),
        }
    )


@routes.post("/agent/bookings/{booking_id}/outcome")
async def outcome(request: web.Request) -> web.Response:
    _user, ctx, booking = await _staff_booking(request)
    body = await json_body(request)
    record = await set_outcome(ctx, booking, read(Outcome, body).status)
    return web.json_response(record.public())


@routes.post("/agent/bookings/{booking_id}/cancel")
async def cancel(request: web.Request) -> web.Response:
    """The service cancels (agent absent, motif withdrawn...); the citizen gets the
    cancellation notice with its calendar update."""
    _user, ctx, booking = await _staff_booking(request)
    record = await cancel_booking(ctx, booking)
    return web.json_response(record.public())


@routes.post("/agent/bookings/{booking_id}/confirm")
async def confirm(request: web.Request) -> web.Response:
    """Accept a request for a motif that needs review (decline it with ``cancel``)."""
    _user, ctx, booking = await _staff_booking(request)
    return web.json_response((await confirm_request(ctx, booking)).public())


@routes.post("/agent/bookings/{booking_id}/guests")
async def invite_guest(request: web.Request) -> web.Response:
    """A link for a third person in the call (an interpreter, a colleague, a relative),
    to give them by the agent's own means; they wait in the lobby under that name."""
    user, ctx, booking = await _staff_booking(request)
    new = read(NewGuest, await json_body(request))
    refused = refusal_for(booking.status, booking.start, booking.end, "guest", time.time())
    if refused is not None and refused.code in _CLOSED:
        raise ApiError(409, refused.code, _CLOSED[refused.code])
    if booking.status != "booked":
        raise ApiError(409, "not-active", "Ce rendez-vous n’est pas confirmé.")
    async with ctx.database.transaction() as tx:
        guest, url = await call_guests.add_guest(
            ctx, tx, booking, kind=new.kind, name=new.name, invited_by=user.id
        )
    not_before, expires_at = join_window(booking.start, booking.end, "guest")
    return web.json_response(
        {
            "guest": guest.public(),
            "url": url,
            "not_before": datetime.fromtimestamp(not_before, UTC).isoformat(),
            "expires_at": datetime.fromtimestamp(expires_at, UTC).isoformat(),
        },
        status=201,
    )


@routes.get("/agent/bookings/{booking_id}/guests")
async def guests(request: web.Request) -> web.Response:
    """Who was invited into the call, the citizen's companion included."""
    _user, ctx, booking = await _staff_booking(request)
    found = await call_guests.list_guests(ctx.database, booking.id)
    return web.json_response({"guests": [g.public() for g in found]})


@routes.get("/agent/callbacks")
async def open_callbacks(request: web.Request) -> web.Response:
    """Citizens waiting to be called back, beside the live queue: the agent's service
    (an administrator: the organisation), oldest first."""
    user = await require_user(request, "agent", "admin")
    db = context_of(request).database
    if user.role == "admin":
        found = await callbacks.open_requests(db, "s.organisation_id = ?", user.organisation_id)
    else:
        found = await callbacks.open_requests(
            db, "(b.agent_id = ? OR s.id = ?)", user.id, user.service_id or ""
        )
    listed = [
        callback.public()
        | {
            "citizen_name": row["citizen_name"],
            "motif": row["motif_label"],
            "start": to_paris_iso(from_epoch(float(row["start_at"]))),
        }
        for callback, row in found
    ]
    return web.json_response({"callbacks": listed})


@routes.post("/agent/callbacks/{callback_id}/done")
async def callback_done(request: web.Request) -> web.Response:
    user = await require_user(request, "agent", "admin")
    db = context_of(request).database
    found = await callbacks.load(db, request.match_info["callback_id"])
    if found is None:
        raise not_found("Demande de rappel introuvable.")
    ensure_access(user, await load_booking(db, found.booking_id))
    return web.json_response((await callbacks.mark_done(db, found, user.id)).public())


@routes.get("/agent/bookings/{booking_id}/chat")
async def chat_record(request: web.Request) -> web.Response:
    """The call's written messages, kept with its record for the agent."""
    _user, ctx, booking = await _staff_booking(request)
    return web.json_response({"messages": await call_chat.messages(ctx.database, booking.id)})
