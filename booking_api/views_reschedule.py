"""Staff move an appointment on the citizen's behalf (the citizen called, or came to the
partner point): an agent or administrator of the organisation, or the partner point
where it was booked.

The move goes through the same :func:`booking_api.bookings.reschedule_booking` as the
citizen's manage link: same notice, horizon and closed days, the same claim on the slot
in the database, and the same reschedule notice mailed to the citizen via the outbox.
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from booking_api.access import ensure_access
from booking_api.api_requests import StaffReschedule
from booking_api.auth import require_user
from booking_api.bookings import load_booking, reschedule_booking
from booking_api.catalogue import get_motif
from booking_api.context import context_of
from booking_api.errors import ApiError, json_body
from booking_api.field_errors import read

routes = web.RouteTableDef()


async def _reschedule(request: web.Request, *roles: str) -> web.Response:
    user = await require_user(request, *roles)
    ctx = context_of(request)
    booking = ensure_access(
        user, await load_booking(ctx.database, request.match_info["booking_id"])
    )
    body = await json_body(request)
    move = read(StaffReschedule, body)
    start, agent_id = move.start, move.agent_id
    now = datetime.now(UTC)
    if booking.start <= now:
        raise ApiError(409, "too-late", "Ce rendez-vous a déjà commencé.")
    motif = await get_motif(ctx.database, booking.motif_id)
    if motif is None:
        raise ApiError(409, "motif-closed", "Ce motif n’est plus proposé.")
    record, _join = await reschedule_booking(
        ctx, booking, motif, start.astimezone(UTC), now, agent_id=agent_id
    )
    return web.json_response(record.public())


@routes.post("/agent/bookings/{booking_id}/reschedule")
async def reschedule_as_agent(request: web.Request) -> web.Response:
    """An agent of the service or an administrator moves a booking (``start``, and
    optionally ``agent_id``: by default any agent of the service free at that time)."""
    return await _reschedule(request, "agent", "admin")


@routes.post("/partner/bookings/{booking_id}/reschedule")
async def reschedule_as_partner(request: web.Request) -> web.Response:
    """A partner point moves a booking it made for a citizen."""
    return await _reschedule(request, "partner")
