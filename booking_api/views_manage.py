"""The citizen's manage link: view, cancel or move an appointment without an account."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from booking_api import links
from booking_api.api_requests import Reschedule
from booking_api.bookings import (
    ACTIVE,
    OPEN,
    BookingRecord,
    cancel_booking,
    load_by_manage_token,
    reschedule_booking,
)
from booking_api.catalogue import get_motif
from booking_api.context import context_of
from booking_api.errors import ApiError, json_body, not_found
from booking_api.field_errors import read

routes = web.RouteTableDef()


async def _booking(request: web.Request) -> BookingRecord:
    token = request.match_info["token"]
    booking = await load_by_manage_token(context_of(request).database, token)
    if booking is None:
        raise not_found("Lien de gestion inconnu ou expiré.")
    return booking


async def _view(request: web.Request, booking: BookingRecord) -> web.Response:
    ctx = context_of(request)
    body = booking.public()
    active = booking.status in OPEN and booking.start > datetime.now(UTC)
    body["can_cancel"] = active
    body["can_reschedule"] = active
    body["join_url"] = (
        await links.guest_join_url(ctx, ctx.database, booking) if booking.status == ACTIVE else None
    )
    return web.json_response(body)


@routes.get("/manage/{token}")
async def manage_view(request: web.Request) -> web.Response:
    return await _view(request, await _booking(request))


@routes.post("/manage/{token}/cancel")
async def manage_cancel(request: web.Request) -> web.Response:
    booking = await _booking(request)
    if booking.start <= datetime.now(UTC):
        raise ApiError(409, "too-late", "Ce rendez-vous a déjà commencé.")
    record = await cancel_booking(context_of(request), booking)
    return await _view(request, record)


@routes.post("/manage/{token}/reschedule")
async def manage_reschedule(request: web.Request) -> web.Response:
    ctx = context_of(request)
    booking = await _booking(request)
    body = await json_body(request)
    start = read(Reschedule, body).start
    if booking.start <= datetime.now(UTC):
        raise ApiError(409, "too-late", "Ce rendez-vous a déjà commencé.")
    motif = await get_motif(ctx.database, booking.motif_id)
    if motif is None:
        raise ApiError(409, "motif-closed", "Ce motif n’est plus proposé.")
    record, _join = await reschedule_booking(
        ctx,
        booking,
        motif,
        start.astimezone(UTC),
        datetime.now(UTC),
        manage_url=links.manage_url(ctx, request.match_info["token"]),
    )
    return await _view(request, record)
