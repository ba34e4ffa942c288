"""Staff endpoints beyond the agenda: booking on a citizen's behalf (agent or partner
point) and statistics."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from booking_api import links, statistics
from booking_api.api_requests import DayQuery, PartnerBooking, StatsQuery
from booking_api.auth import require_user
from booking_api.bookings import create_booking, list_bookings
from booking_api.catalogue import paris_day_bounds
from booking_api.context import context_of
from booking_api.errors import ValidationFailed, json_body, not_found
from booking_api.field_errors import FieldErrors, read
from booking_api.slots import PARIS
from booking_api.views_public import created_response, parse_new_booking, query_of

routes = web.RouteTableDef()


@routes.post("/agent/bookings")
async def book_as_agent(request: web.Request) -> web.Response:
    """An agent books for a citizen (phone call, counter); defaults to themself as host."""
    user = await require_user(request, "agent", "admin")
    body = await json_body(request)
    if user.role == "agent" and "agent_id" not in body:
        body["agent_id"] = user.id
    new = await parse_new_booking(request, body)
    if new.motif.organisation_id != user.organisation_id:
        raise not_found("Motif inconnu.")
    new = dataclasses.replace(new, booked_by="agent", booked_by_user_id=user.id)
    return created_response(await create_booking(context_of(request), new, datetime.now(UTC)))


@routes.post("/partner/bookings")
async def book_as_partner(request: web.Request) -> web.Response:
    """A partner point books for a citizen who consented; the staff's own contact
    details must not stand in for the citizen's."""
    user = await require_user(request, "partner")
    body = await json_body(request)
    errors = FieldErrors()
    citizen = body.get("citizen")
    if isinstance(citizen, dict) and str(citizen.get("email", "")).strip().lower() == user.email:
        errors.add(
            "citizen.email", "staff-email", "Indiquez l’email de l’usager, pas celui de l’accueil."
        )
    # A citizen without equipment may have neither email nor phone: the point hosts the call.
    new = await parse_new_booking(
        request, body, model=PartnerBooking, require_contact=False, errors=errors
    )
    if new.motif.organisation_id != user.organisation_id:
        raise not_found("Motif inconnu.")
    new = dataclasses.replace(
        new,
        booked_by="partner",
        booked_by_user_id=user.id,
        partner_point_id=user.partner_point_id,
        consent_at=int(datetime.now(UTC).timestamp()),
    )
    return created_response(await create_booking(context_of(request), new, datetime.now(UTC)))


@routes.get("/partner/bookings")
async def partner_day(request: web.Request) -> web.Response:
    """The day's bookings made at the staff's partner point, each with a join link the
    point opens on its device for the citizen."""
    user = await require_user(request, "partner")
    day = read(DayQuery, query_of(request)).date or datetime.now(PARIS).date()
    lo, hi = paris_day_bounds(day, day)
    ctx = context_of(request)
    bookings = await list_bookings(
        ctx.database,
        "b.partner_point_id = ? AND b.start_at >= ? AND b.start_at < ?",
        user.partner_point_id,
        lo,
        hi,
    )
    out = []
    for booking in bookings:
        item = booking.public()
        if booking.status == "booked":
            item["join_url"] = await links.guest_join_url(ctx, ctx.database, booking)
        out.append(item)
    return web.json_response({"date": day.isoformat(), "bookings": out})


@routes.get("/stats")
async def stats(request: web.Request) -> web.StreamResponse:
    user = await require_user(request, "admin", "agent", "partner")
    query = read(StatsQuery, query_of(request))
    today = datetime.now(PARIS).date()
    first = query.from_ or today - timedelta(days=30)
    last = query.to or today
    group_by, fmt = query.group_by, query.format
    if last < first:
        raise ValidationFailed(
            {"to": "La date de fin précède la date de début."}, codes={"to": "end-before-start"}
        )
    lo, hi = paris_day_bounds(first, last)
    scope: tuple[str, str | None]
    if user.role == "admin":
        scope = ("s.organisation_id = ?", user.organisation_id)
    elif user.role == "agent":
        scope = ("b.agent_id = ?", user.id)
    else:
        scope = ("b.partner_point_id = ?", user.partner_point_id)
    rows = await statistics.compute(
        context_of(request).database,
        group_by=group_by,
        start_at=lo,
        end_at=hi,
        scope=scope[0],
        scope_value=scope[1],
    )
    if fmt == "csv":
        return web.Response(
            text=statistics.to_csv(rows),
            content_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="statistiques.csv"'},
        )
    body: dict[str, Any] = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "group_by": group_by,
        "rows": rows,
    }
    return web.json_response(body)
