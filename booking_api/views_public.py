"""Public endpoints: what can be booked, free slots, and booking without an account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from booking_api.bookings import NewBooking, create_booking
from booking_api.catalogue import agent_calendars, get_motif, list_services
from booking_api.client_address import client_address
from booking_api.context import context_of
from booking_api.date_window import parse_date, parse_instant
from booking_api.errors import ValidationFailed, json_body, not_found
from booking_api.mail_text import LOCALES
from booking_api.slots import PARIS, free_slots, to_paris_iso
from booking_api.validation import (
    optional_text,
    parse_citizen,
    raise_if,
)

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
    today = datetime.now(PARIS).date()
    errors: dict[str, str] = {}
    first = parse_date(request.query.get("from", today.isoformat()), "from", errors)
    last = None
    if first is not None:
        default_last = first + timedelta(days=13)
        last = parse_date(request.query.get("to", default_last.isoformat()), "to", errors)
    raise_if(errors)
    assert first is not None and last is not None
    if last < first:
        raise ValidationFailed({"to": "La date de fin précède la date de début."})
    if (last - first).days >= MAX_SLOT_RANGE_DAYS:
        raise ValidationFailed({"to": f"{MAX_SLOT_RANGE_DAYS} jours au plus."})
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


async def parse_new_booking(
    request: web.Request, body: dict[str, Any], *, require_contact: bool = True
) -> NewBooking:
    """Fields common to every way of booking; field errors all reported at once."""
    db = context_of(request).database
    errors: dict[str, str] = {}
    motif = None
    motif_id = body.get("motif_id")
    if not isinstance(motif_id, str) or not motif_id:
        errors["motif_id"] = "Le motif est obligatoire."
    else:
        motif = await get_motif(db, motif_id)
        if motif is None:
            errors["motif_id"] = "Motif inconnu."
    start = parse_instant(body.get("start"), "start", errors)
    agent_id = body.get("agent_id")
    if agent_id is not None and not isinstance(agent_id, str):
        errors["agent_id"] = "Identifiant de conseiller invalide."
    citizen = parse_citizen(body.get("citizen"), errors, require_contact=require_contact)
    locale = optional_text(body.get("locale"), "locale", errors) or "fr"
    if locale not in LOCALES:
        errors["locale"] = "Langue prise en charge : fr ou en."
    channel = optional_text(body.get("channel"), "channel", errors)
    if motif is not None:
        if channel is None:
            channel = "video" if motif.video else motif.channels[0]
        elif channel not in motif.channels:
            errors["channel"] = "Ce motif n’est pas proposé sur ce canal."
    raise_if(errors)
    assert motif is not None and start is not None and citizen is not None and channel
    return NewBooking(
        motif=motif,
        start=start.astimezone(UTC),
        agent_id=agent_id,
        citizen=citizen,
        channel=channel,
        locale=locale,
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
