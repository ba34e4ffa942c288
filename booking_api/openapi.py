"""The OpenAPI 3.1 description of the booking REST API (served at ``/api/openapi.json``).

Paths are relative to the server URL ``/api``. A test checks that every registered
route is described here and every description has a route.
"""

from __future__ import annotations

from typing import Any

from booking_api import openapi_calendar, openapi_management


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = _json(_ref("Error"), "Error (JSON, with field messages for 422)")
_ERRORS = {"400": _ERR, "404": _ERR, "422": _ERR}
_STAFF = {"401": _ERR, "403": _ERR, "404": _ERR}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    errors: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    status: str = "200",
    staff: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": {status: ok, **(errors or {})}}
    if body is not None or any(_is_date_query(p) for p in params or ()):
        # A body that is not a JSON object, or a date outside the accepted years.
        op["responses"].setdefault("400", _ERR)
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if staff:
        op["security"] = [{"session": [], "csrf": []}]
    return op


def _is_date_query(param: dict[str, Any]) -> bool:
    return param.get("in") == "query" and param.get("schema", {}).get("format") == "date"


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "format": "date"},
    }


_OBJ = {"type": "object"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "examples": ["validation", "slot-taken", "not-found"]},
            "message": {"type": "string"},
            "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
    "Motif": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "label": {"type": "string"},
            "duration_min": {"type": "integer"},
            "channels": {"type": "array", "items": {"enum": ["video", "phone", "in-person"]}},
            "video": {"type": "boolean"},
            "notice_min": {"type": "integer"},
            "horizon_days": {"type": "integer"},
            "buffer_min": {"type": "integer"},
            "needs_review": {"type": "boolean"},
        },
    },
    "Service": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "organisation": {
                "type": "object",
                "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
            },
            "motifs": {"type": "array", "items": _ref("Motif")},
        },
    },
    "Slot": {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "agent_id": {"type": "string"},
        },
    },
    "Citizen": {
        "type": "object",
        "required": ["name"],
        "description": "Name, and an email and/or a phone number.",
        "properties": {
            "name": {
                "type": "string",
                "maxLength": 100,
                "description": "One line: no control or bidirectional-override characters, "
                "at least one letter, no address, link or markup.",
            },
            "email": {"type": "string"},
            "phone": {"type": "string"},
        },
    },
    "BookedCitizen": {
        "type": "object",
        "required": ["name", "email", "phone"],
        "description": "Whichever of email and phone was not given is null.",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "phone": {"type": ["string", "null"]},
        },
    },
    "NewBooking": {
        "type": "object",
        "required": ["motif_id", "start", "citizen"],
        "properties": {
            "motif_id": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "agent_id": {"type": "string"},
            "channel": {"enum": ["video", "phone", "in-person"]},
            "locale": {"enum": ["fr", "en"]},
            "citizen": _ref("Citizen"),
        },
    },
    "Booking": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "Also the call's room."},
            "status": {"enum": ["booked", "pending", "cancelled", "done", "no-show"]},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "channel": {"type": "string"},
            "motif": _OBJ,
            "organisation": _OBJ,
            "agent": _OBJ,
            "citizen": _ref("BookedCitizen"),
            "booked_by": {"enum": ["self", "partner", "agent"]},
            "manage_url": {"type": "string", "description": "Only when just booked."},
            "join_url": {"type": ["string", "null"]},
            "can_cancel": {"type": "boolean"},
            "can_reschedule": {"type": "boolean"},
        },
    },
    "User": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "email": {"type": "string"},
            "role": {"enum": ["admin", "agent", "partner"]},
            "organisation_id": {"type": ["string", "null"]},
        },
    },
    "File": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "content_type": {"enum": ["application/pdf", "image/png", "image/jpeg"]},
            "size": {"type": "integer"},
            "uploaded_by": {"type": "string"},
        },
    },
    "QueueStatus": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["waiting", "taken", "left"]},
            "position": {"type": ["integer", "null"]},
            "join_url": {"type": ["string", "null"]},
            "wait_token": {"type": "string", "description": "Only in the 201 answer."},
        },
    },
    "Session": {
        "type": "object",
        "properties": {"user": _ref("User"), "csrf_token": {"type": "string"}},
    },
}

_TOKEN = _path("token")
_BOOKING = _path("booking_id")


def openapi_document() -> dict[str, Any]:
    booking = _json(_ref("Booking"))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Visioguichet booking API",
            "version": "1",
            "description": "Errors are JSON objects {error, message, fields?}. Staff requests "
            "carry the session cookie and, when unsafe, the X-CSRF-Token header.",
        },
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": SCHEMAS | openapi_management.SCHEMAS | openapi_calendar.SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "vg_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "paths": openapi_management.paths()
        | openapi_calendar.paths()
        | {
            "/openapi.json": {"get": _op("This document", _json(_OBJ))},
            "/services": {
                "get": _op(
                    "Services and their motifs", _json({"type": "array", "items": _ref("Service")})
                )
            },
            "/motifs/{motif_id}/slots": {
                "get": _op(
                    "Free slots of a motif (Europe/Paris)",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "motif_id": {"type": "string"},
                                "timezone": {"const": "Europe/Paris"},
                                "slots": {"type": "array", "items": _ref("Slot")},
                            },
                        }
                    ),
                    params=[
                        _path("motif_id"),
                        _query("from", "first day, default today"),
                        _query("to", "last day, default from + 13 days"),
                    ],
                    errors=_ERRORS,
                )
            },
            "/bookings": {
                "post": _op(
                    "Book a slot (citizen, no account)",
                    _json(_ref("Booking"), "Booked; confirmation mail queued"),
                    body=_ref("NewBooking"),
                    status="201",
                    errors={
                        **_ERRORS,
                        "409": _json(_ref("Error"), "slot-taken"),
                        "429": _json(_ref("Error"), "too-many-bookings (see Retry-After)"),
                    },
                )
            },
            "/manage/{token}": {
                "get": _op(
                    "View a booking by its manage token", booking, params=[_TOKEN], errors=_ERRORS
                )
            },
            "/manage/{token}/cancel": {
                "post": _op("Cancel", booking, params=[_TOKEN], errors={**_ERRORS, "409": _ERR})
            },
            "/manage/{token}/reschedule": {
                "post": _op(
                    "Move to another start",
                    booking,
                    params=[_TOKEN],
                    body={
                        "type": "object",
                        "required": ["start"],
                        "properties": {"start": {"type": "string", "format": "date-time"}},
                    },
                    errors={**_ERRORS, "409": _ERR},
                )
            },
            "/auth/login": {
                "post": _op(
                    "Sign in; sets the session cookie",
                    _json(_ref("Session")),
                    body={
                        "type": "object",
                        "required": ["email", "password"],
                        "properties": {"email": {"type": "string"}, "password": {"type": "string"}},
                    },
                    errors={
                        "401": _ERR,
                        "422": _ERR,
                        "429": _json(_ref("Error"), "too-many-attempts (see Retry-After)"),
                    },
                )
            },
            "/auth/logout": {"post": _op("Sign out", _json(_OBJ), errors=_STAFF, staff=True)},
            "/auth/me": {
                "get": _op("The signed-in user", _json(_ref("Session")), errors=_STAFF, staff=True)
            },
            "/agent/agenda": {
                "get": _op(
                    "The day's bookings (agent: own; admin: organisation)",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "date": {"type": "string"},
                                "bookings": {"type": "array", "items": _ref("Booking")},
                            },
                        }
                    ),
                    params=[_query("date", "default today (Paris)")],
                    errors={**_STAFF, "422": _ERR},
                    staff=True,
                )
            },
            "/agent/bookings/{booking_id}/join": {
                "post": _op(
                    "Host join token and call URL; the token is valid from not_before "
                    "(30 min ahead of the slot) to expires_at (2 h after its end)",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "token": {"type": "string"},
                                "url": {"type": "string"},
                                "room": {"type": "string"},
                                "not_before": {"type": "string", "format": "date-time"},
                                "expires_at": {"type": "string", "format": "date-time"},
                            },
                        }
                    ),
                    params=[_BOOKING],
                    errors={
                        **_STAFF,
                        "409": _json(_ref("Error"), "booking-cancelled, booking-ended: no call"),
                    },
                    staff=True,
                )
            },
            "/bookings/{booking_id}/files": {
                "post": _op(
                    "Upload a PDF/PNG/JPEG for the call (multipart field 'file'); "
                    "Authorization: Bearer <join or manage token>, or staff session. "
                    "The name is stored cleaned (no folder or control character, 120 "
                    "characters, extension of the content); a booking holds at most 20 "
                    "documents (409 too-many-files) and 50 MB (413 files-quota) by default",
                    _json(_ref("File"), "Stored"),
                    params=[_BOOKING],
                    status="201",
                    errors={**_STAFF, "409": _ERR, "413": _ERR, "422": _ERR},
                ),
                "get": _op(
                    "Documents of the booking",
                    _json(
                        {
                            "type": "object",
                            "properties": {"files": {"type": "array", "items": _ref("File")}},
                        }
                    ),
                    params=[_BOOKING],
                    errors=_STAFF,
                ),
            },
            "/bookings/{booking_id}/files/{file_id}": {
                "get": _op(
                    "Download one document",
                    {"description": "The document", "content": {"application/octet-stream": {}}},
                    params=[_BOOKING, _path("file_id")],
                    errors=_STAFF,
                )
            },
            "/bookings/{booking_id}/survey": {
                "post": _op(
                    "The citizen's satisfaction score (1-5); "
                    "Authorization: Bearer <join or manage token>",
                    _json(_OBJ),
                    params=[_BOOKING],
                    body={
                        "type": "object",
                        "required": ["score"],
                        "properties": {
                            "score": {"type": "integer", "minimum": 1, "maximum": 5},
                            "comment": {"type": "string", "maxLength": 1000},
                        },
                    },
                    errors={**_STAFF, "422": _ERR},
                )
            },
            "/agent/bookings": {
                "post": _op(
                    "An agent books for a citizen (agent_id defaults to the agent)",
                    _json(_ref("Booking"), "Booked"),
                    body=_ref("NewBooking"),
                    status="201",
                    errors={**_STAFF, "409": _ERR, "422": _ERR},
                    staff=True,
                )
            },
            "/partner/bookings": {
                "get": _op(
                    "The day's bookings made at the partner point, with join links",
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "date": {"type": "string"},
                                "bookings": {"type": "array", "items": _ref("Booking")},
                            },
                        }
                    ),
                    params=[_query("date", "default today (Paris)")],
                    errors={**_STAFF, "422": _ERR},
                    staff=True,
                ),
                "post": _op(
                    "A partner point books for a consenting citizen (consent: true required)",
                    _json(_ref("Booking"), "Booked"),
                    body={
                        "allOf": [
                            _ref("NewBooking"),
                            {
                                "type": "object",
                                "required": ["consent"],
                                "properties": {"consent": {"const": True}},
                            },
                        ]
                    },
                    status="201",
                    errors={**_STAFF, "409": _ERR, "422": _ERR},
                    staff=True,
                ),
            },
            "/stats": {
                "get": _op(
                    "Statistics (admin: organisation; agent: own; partner: own point)",
                    {
                        "description": "Rows of figures",
                        "content": {"application/json": {"schema": _OBJ}, "text/csv": {}},
                    },
                    params=[
                        _query("from", "first day, default 30 days ago"),
                        _query("to", "last day, default today"),
                        {
                            "name": "group_by",
                            "in": "query",
                            "schema": {
                                "enum": [
                                    "organisation",
                                    "service",
                                    "motif",
                                    "partner",
                                    "agent",
                                    "week",
                                ]
                            },
                        },
                        {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
                    ],
                    errors={**_STAFF, "422": _ERR},
                    staff=True,
                )
            },
            "/queue": {
                "post": _op(
                    "Ask for a call now (citizen; or partner session with consent: true)",
                    _json(_ref("QueueStatus"), "Waiting; keep wait_token to follow"),
                    body={
                        "type": "object",
                        "required": ["motif_id", "citizen"],
                        "properties": {
                            "motif_id": {"type": "string"},
                            "citizen": _ref("Citizen"),
                            "consent": {"type": "boolean"},
                        },
                    },
                    status="201",
                    errors={**_ERRORS, "403": _ERR},
                )
            },
            "/queue/{token}": {
                "get": _op(
                    "Position, then join_url once an agent took the request",
                    _json(_ref("QueueStatus")),
                    params=[_TOKEN],
                    errors=_ERRORS,
                )
            },
            "/queue/{token}/leave": {
                "post": _op(
                    "Leave the queue", _json(_OBJ), params=[_TOKEN], errors={**_ERRORS, "409": _ERR}
                )
            },
            "/agent/queue": {
                "get": _op(
                    "Waiting requests of the agent's service",
                    _json(_OBJ),
                    errors=_STAFF,
                    staff=True,
                )
            },
            "/agent/queue/events": {
                "get": _op(
                    "Live queue (Server-Sent Events, event 'queue' with the list)",
                    {"description": "SSE stream", "content": {"text/event-stream": {}}},
                    errors=_STAFF,
                    staff=True,
                )
            },
            "/agent/queue/take": {
                "post": _op(
                    "Take the longest-waiting request: host token and URL",
                    _json(_OBJ),
                    errors={**_STAFF, "409": _ERR},
                    staff=True,
                )
            },
            "/agent/bookings/{booking_id}/outcome": {
                "post": _op(
                    "Record done or no-show",
                    booking,
                    params=[_BOOKING],
                    body={
                        "type": "object",
                        "required": ["status"],
                        "properties": {"status": {"enum": ["done", "no-show"]}},
                    },
                    errors={**_STAFF, "409": _ERR, "422": _ERR},
                    staff=True,
                )
            },
        },
    }
