"""An administrator's closed days over HTTP: the public-holiday calendar that applies to
the organisation and its own closure days (a "pont", a strike day).

Closing a day does not cancel what is already booked on it: the answer lists those
appointments, with the citizens' contact details, so the administrator can move them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web

from booking_api import closures
from booking_api.api_requests import ClosureDay as ClosureDayRequest
from booking_api.api_requests import HolidayCalendar
from booking_api.auth import require_user
from booking_api.bookings import OPEN, list_bookings
from booking_api.catalogue import paris_day_bounds
from booking_api.context import context_of
from booking_api.db import Database
from booking_api.errors import ApiError, ValidationFailed, json_body, not_found
from booking_api.field_errors import read
from booking_api.public_holidays import CALENDAR_LABELS, public_holidays
from booking_api.slots import PARIS, to_paris_iso

routes = web.RouteTableDef()

SHOWN_DAYS = 366  # the coming year of public holidays, so the administrator sees them


async def _admin(request: web.Request) -> tuple[str, Database]:
    user = await require_user(request, "admin")
    if not user.organisation_id:
        raise ApiError(409, "no-organisation", "Votre compte n’est rattaché à aucun organisme.")
    return user.organisation_id, context_of(request).database


def _today() -> date:
    return datetime.now(PARIS).date()


async def appointments_on(
    db: Database, organisation_id: str, days: Iterable[date]
) -> list[dict[str, Any]]:
    """Active appointments of the organisation on the days, and whom to contact."""
    found: list[dict[str, Any]] = []
    for day in sorted(set(days)):
        lo, hi = paris_day_bounds(day, day)
        bookings = await list_bookings(
            db,
            "s.organisation_id = ? AND b.status IN (?, ?) AND b.start_at >= ? AND b.start_at < ?",
            organisation_id,
            *OPEN,
            lo,
            hi,
        )
        found += [
            {
                "id": b.id,
                "start": to_paris_iso(b.start),
                "motif": b.motif_label,
                "agent": b.agent_name,
                "citizen": {
                    "name": b.citizen_name,
                    "email": b.citizen_email,
                    "phone": b.citizen_phone,
                },
            }
            for b in bookings
        ]
    return found


async def _view(db: Database, organisation_id: str) -> dict[str, Any]:
    today = _today()
    last = today + timedelta(days=SHOWN_DAYS)
    code = await closures.holiday_calendar(db, organisation_id)
    return {
        "holiday_calendar": code,
        "calendars": [{"code": c, "label": label} for c, label in CALENDAR_LABELS.items()],
        "public_holidays": [
            {"date": d.isoformat(), "label": name}
            for d, name in public_holidays(code, today, last).items()
        ],
        "closure_days": [
            c.public() for c in await closures.closure_days(db, organisation_id, today, date.max)
        ],
    }


@routes.get("/admin/closures")
async def show(request: web.Request) -> web.Response:
    organisation_id, db = await _admin(request)
    return web.json_response(await _view(db, organisation_id))


@routes.put("/admin/closures/calendar")
async def set_calendar(request: web.Request) -> web.Response:
    """Choose the public-holiday calendar; lists appointments on holidays it adds."""
    organisation_id, db = await _admin(request)
    code = read(HolidayCalendar, await json_body(request)).holiday_calendar
    today = _today()
    last = today + timedelta(days=SHOWN_DAYS)
    before = public_holidays(await closures.holiday_calendar(db, organisation_id), today, last)
    await closures.set_holiday_calendar(db, organisation_id, code)
    added = set(public_holidays(code, today, last)) - set(before)
    conflicts = await appointments_on(db, organisation_id, added)
    await context_of(request).queue_hub.notify()  # nobody takes calls today if closed
    return web.json_response(await _view(db, organisation_id) | {"conflicts": conflicts})


@routes.post("/admin/closures/days")
async def add_day(request: web.Request) -> web.Response:
    """Close the organisation on a day (``date``, ``label``)."""
    organisation_id, db = await _admin(request)
    asked = read(ClosureDayRequest, await json_body(request), today=_today())
    closure = closures.ClosureDay(asked.date, asked.label)
    await closures.add_closure_day(db, organisation_id, closure)
    conflicts = await appointments_on(db, organisation_id, [closure.day])
    await context_of(request).queue_hub.notify()
    return web.json_response(closure.public() | {"conflicts": conflicts}, status=201)


@routes.delete("/admin/closures/days/{day}")
async def remove_day(request: web.Request) -> web.Response:
    organisation_id, db = await _admin(request)
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError as exc:
        raise ValidationFailed(
            {"date": "Date attendue au format AAAA-MM-JJ."}, codes={"date": "not-a-date"}
        ) from exc
    if not await closures.remove_closure_day(db, organisation_id, day):
        raise not_found("Jour de fermeture introuvable.")
    await context_of(request).queue_hub.notify()
    return web.json_response({"date": day.isoformat(), "deleted": True})
