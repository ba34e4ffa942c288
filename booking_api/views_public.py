"""Public endpoints: what can be booked, free slots, and booking without an account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from booking_api.api_requests import NewBooking as NewBookingRequest
from booking_api.api_requests import SlotsQuery
from booking_api.booking_records import Citizen
from booking_api.bookings import NewBooking, create_booking
from booking_api.catalogue import agent_calendars, get_motif, list_services
from booking_api.client_address import client_address
from booking_api.context import context_of
from booking_api.errors import ValidationFailed, json_body, not_found
from booking_api.field_errors import FieldErrors, read
from booking_api.slots import PARIS, free_slots, to_paris_iso

MAX_SLOT_RANGE_DAYS = 62

routes = web.RouteTableDef()


@routes.get("/services")
async def services(request: web.Request) -> web.Response:
    return web.json_response(await list_services(context_of(request).database))


@routes.get("/motifs/{motif_id}/slots")
async def motif_slots(request: web.Request) -> web.Response:
    db = context_of(request).database
    motif = await get_motif(db, request.match_info["motif_id"])
    if motif is None:
        raise not_found("Motif inconnu.")
    query = read(SlotsQuery, query_of(request))
    first = query.from_ or datetime.now(PARIS).date()
    last = query.to or first + timedelta(days=13)
    if last < first:
        raise ValidationFailed(
            {"to": "La date de fin précède la date de début."}, codes={"to": "end-before-start"}
        )
    if (last - first).days >= MAX_SLOT_RANGE_DAYS:
        raise ValidationFailed(
            {"to": f"{MAX_SLOT_RANGE_DAYS} jours au plus."}, codes={"to": "range-too-long"}
        )
    calendars = await agent_calendars(db, motif.service_id, first, last)
    slots = free_slots(motif.timing, calendars, first, last, datetime.now(UTC))
    return web.json_response(
        {
            "motif_id": motif.id,
            "timezone": "Europe/Paris",
            "slots": [
                {"start": to_paris_iso(s.start), "end": to_paris_iso(s.end), "agent_id": s.agent_id}
                for s in slots
            ],
        }
    )


def query_of(request: web.Request) -> dict[str, str]:
    """The query's parameters, the first of each name."""
    return {name: request.query[name] for name in request.query}


async def parse_new_booking(
    request: web.Request,
    body: dict[str, Any],
    *,
    model: type[NewBookingRequest] = NewBookingRequest,
    require_contact: bool = True,
    errors: FieldErrors | None = None,
) -> NewBooking:
    """Fields common to every way of booking; field errors all reported at once, with
    those ``errors`` already holds."""
    db = context_of(request).database
    errors = errors or FieldErrors()
    new = errors.read(model, body, require_contact=require_contact)
    motif = None
    motif_id = new.motif_id if new else body.get("motif_id")
    if isinstance(motif_id, str) and motif_id and "motif_id" not in errors:
        motif = await get_motif(db, motif_id)
        if motif is None:
            errors.add("motif_id", "unknown", "Motif inconnu.")
    channel = new.channel if new else None
    if motif is not None and new is not None:
        if channel is None:
            channel = "video" if motif.video else motif.channels[0]
        elif channel not in motif.channels:
            errors.add("channel", "not-offered", "Ce motif n’est pas proposé sur ce canal.")
    errors.raise_if_any()
    assert new is not None and motif is not None and channel
    return NewBooking(
        motif=motif,
        start=new.start.astimezone(UTC),
        agent_id=new.agent_id,
        citizen=Citizen(new.citizen.name, new.citizen.email, new.citizen.phone),
        channel=channel,
        locale=new.locale,
        companion=(
            Citizen(new.companion.name, new.companion.email, new.companion.phone)
            if new.companion is not None
            else None
        ),
    )


def created_response(created: Any) -> web.Response:
    record = created.record
    body = record.public()
    body.update({"manage_url": created.manage_url, "join_url": created.join_url})
    return web.json_response(body, status=201)


@routes.post("/bookings")
async def book(request: web.Request) -> web.Response:
    """A citizen books for themself; staff book through their own endpoints."""
    ctx = context_of(request)
    body = await json_body(request)
    new = await parse_new_booking(request, body)
    # Counted once the request is valid: a typo in a form costs the citizen nothing.
    client = client_address(request, ctx.config.trusted_proxies)
    ctx.booking_rate_limit.take(client)
    try:
        created = await create_booking(ctx, new, datetime.now(UTC))
    except BaseException:
        ctx.booking_rate_limit.give_back(client)  # a taken slot is not a booking made
        raise
    return created_response(created)
