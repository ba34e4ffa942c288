"""OpenAPI description of closed days (public-holiday calendar, closure days) and of staff
moving a booking on the citizen's behalf."""

from __future__ import annotations

from typing import Any

from booking_api.openapi_management import _WRITE, _json, _op, _ref
from booking_api.public_holidays import CALENDAR_LABELS

_DAY = {"type": "string", "format": "date", "examples": ["2027-05-07"]}
_CONFLICTS = {
    "type": "array",
    "description": "Active appointments already booked on the days just closed: they stay "
    "booked; contact the citizens to move them.",
    "items": _ref("ClosureConflict"),
}

SCHEMAS: dict[str, Any] = {
    "ClosureDay": {
        "type": "object",
        "required": ["date", "label"],
        "properties": {"date": _DAY, "label": {"type": "string", "minLength": 1, "maxLength": 200}},
    },
    "ClosureConflict": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "motif": {"type": "string"},
            "agent": {"type": "string"},
            "citizen": _ref("Citizen"),
        },
    },
    "Closures": {
        "type": "object",
        "properties": {
            "holiday_calendar": {"enum": list(CALENDAR_LABELS)},
            "calendars": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "label": {"type": "string"}},
                },
            },
            "public_holidays": {
                "type": "array",
                "description": "The coming year's public holidays of the chosen calendar.",
                "items": _ref("ClosureDay"),
            },
            "closure_days": {"type": "array", "items": _ref("ClosureDay")},
            "conflicts": _CONFLICTS | {"description": "Only after a change of calendar."},
        },
    },
}

_MOVE = {
    "type": "object",
    "required": ["start"],
    "properties": {
        "start": {"type": "string", "format": "date-time"},
        "agent_id": {
            "type": "string",
            "description": "The agent to move to; by default any agent of the service free then.",
        },
    },
}
_MOVED = {**_WRITE, "409": _json(_ref("Error"), "slot-taken, too-late or not-active")}


def paths() -> dict[str, Any]:
    return {
        "/admin/closures": {
            "get": _op(
                "The organisation's public-holiday calendar, its coming holidays and closure "
                "days (admin); no slot is offered on those days",
                _json(_ref("Closures")),
            )
        },
        "/admin/closures/calendar": {
            "put": _op(
                "Choose the public-holiday calendar (FR by default; FR-AM for Alsace-Moselle "
                "adds Good Friday and 26 December; none)",
                _json(_ref("Closures")),
                body={
                    "type": "object",
                    "required": ["holiday_calendar"],
                    "properties": {"holiday_calendar": {"enum": list(CALENDAR_LABELS)}},
                },
                errors=_WRITE,
            )
        },
        "/admin/closures/days": {
            "post": _op(
                "Close the organisation on a day (Europe/Paris date); lists the appointments "
                "already booked that day",
                _json(
                    {
                        "allOf": [
                            _ref("ClosureDay"),
                            {"type": "object", "properties": {"conflicts": _CONFLICTS}},
                        ]
                    },
                    "Added",
                ),
                body=_ref("ClosureDay"),
                status="201",
                errors={**_WRITE, "409": _json(_ref("Error"), "closure-exists")},
            )
        },
        "/admin/closures/days/{day}": {
            "delete": _op(
                "Open the day again", _json({"type": "object"}), params=["day"], errors=_WRITE
            )
        },
        "/agent/bookings/{booking_id}/reschedule": {
            "post": _op(
                "Move a booking on the citizen's behalf (agent of the service, admin); same "
                "rules as the manage link, and the citizen is mailed the new time",
                _json(_ref("Booking")),
                params=["booking_id"],
                body=_MOVE,
                errors=_MOVED,
            )
        },
        "/partner/bookings/{booking_id}/reschedule": {
            "post": _op(
                "Move a booking made at this partner point on the citizen's behalf",
                _json(_ref("Booking")),
                params=["booking_id"],
                body=_MOVE,
                errors=_MOVED,
            )
        },
    }
