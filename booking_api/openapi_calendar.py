"""OpenAPI operations of closed days (public-holiday calendar, closure days) and of staff
moving a booking on the citizen's behalf."""

from __future__ import annotations

from typing import Any

from booking_api import api_requests as rq
from booking_api import api_responses as rs
from booking_api.openapi_operations import Operations, json_answer


def paths(ops: Operations) -> dict[str, Any]:
    staff = ops.errors(401, 403, 404)
    moved = staff | ops.errors(s409="slot-taken, too-late or not-active")

    def op(summary: str, ok: Any, **options: Any) -> dict[str, Any]:
        options.setdefault("errors", staff)
        return ops.op(summary, ok, staff=True, **options)

    return {
        "/admin/closures": {
            "get": op(
                "The organisation's public-holiday calendar, its coming holidays and closure "
                "days (admin); no slot is offered on those days",
                rs.Closures,
            )
        },
        "/admin/closures/calendar": {
            "put": op(
                "Choose the public-holiday calendar (FR by default; FR-AM for Alsace-Moselle "
                "adds Good Friday and 26 December; none)",
                rs.Closures,
                body=rq.HolidayCalendar,
            )
        },
        "/admin/closures/days": {
            "post": op(
                "Close the organisation on a day (Europe/Paris date); lists the appointments "
                "already booked that day",
                json_answer(rs.AddedClosureDay, "Added"),
                body=rq.ClosureDay,
                status=201,
                errors=staff | ops.errors(s409="closure-exists"),
            )
        },
        "/admin/closures/days/{day}": {
            "delete": op(
                "Open the day again",
                rs.Deleted,
                path=("day",),
                errors=staff | ops.errors(400, 422),
            )
        },
        "/agent/bookings/{booking_id}/reschedule": {
            "post": op(
                "Move a booking on the citizen's behalf (agent of the service, admin); same "
                "rules as the manage link, and the citizen is mailed the new time",
                rs.Booking,
                path=("booking_id",),
                body=rq.StaffReschedule,
                errors=moved,
            )
        },
        "/partner/bookings/{booking_id}/reschedule": {
            "post": op(
                "Move a booking made at this partner point on the citizen's behalf",
                rs.Booking,
                path=("booking_id",),
                body=rq.StaffReschedule,
                errors=moved,
            )
        },
    }
