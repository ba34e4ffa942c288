"""The OpenAPI 3.1 description of the booking REST API (served at ``/api/openapi.json``),
generated from the request and answer models.

Paths are relative to the server URL ``/api``. A test checks that every registered
route is described here and every description has a route, and that real answers
match their documented schemas.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from booking_api import api_requests as rq
from booking_api import api_responses as rs
from booking_api import openapi_calendar, openapi_calls, openapi_management, openapi_site
from booking_api.openapi_operations import Operations, json_answer

_DESCRIPTION = (
    "Errors are JSON objects {error, message, fields?, field_errors?}: `fields` maps each "
    "field at fault (a path such as `citizen.name` or `rules.2.start`) to a French "
    "message; `field_errors` lists the same as {field, code, message}, the code being "
    "what a client translates. Staff requests carry the session cookie and, when unsafe, "
    "the X-CSRF-Token header."
)


def _paths(ops: Operations) -> dict[str, Any]:
    staff = ops.errors(401, 403, 404)
    public = ops.errors(400, 404, 422)
    booked = rs.Booking
    token = ("token",)
    booking_id = ("booking_id",)
    return {
        "/openapi.json": {"get": ops.op("This document", {"type": "object"})},
        "/services": {"get": ops.op("Services and their motifs", ops.list_of(rs.Service))},
        "/motifs/{motif_id}/slots": {
            "get": ops.op(
                "Free slots of a motif (Europe/Paris), at most 62 days",
                rs.Slots,
                path=("motif_id",),
                query=rq.SlotsQuery,
                errors=public,
            )
        },
        "/bookings": {
            "post": ops.op(
                "Book a slot (citizen, no account)",
                json_answer(booked, "Booked; confirmation mail queued"),
                status=201,
                body=rq.NewBooking,
                errors=public
                | ops.errors(s409="slot-taken", s429="too-many-bookings (see Retry-After)"),
            )
        },
        "/manage/{token}": {
            "get": ops.op("View a booking by its manage token", booked, path=token, errors=public)
        },
        "/manage/{token}/cancel": {
            "post": ops.op("Cancel", booked, path=token, errors=public | ops.errors(409))
        },
        "/manage/{token}/reschedule": {
            "post": ops.op(
                "Move to another start",
                booked,
                path=token,
                body=rq.Reschedule,
                errors=public | ops.errors(409),
            )
        },
        "/j/{code}": {
            "get": ops.op(
                "Open a short link from an SMS: 303 to the join or manage link it stands for",
                None,
                status=303,
                path=("code",),
                answer={
                    "description": "Redirect",
                    "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
                },
                errors=ops.errors(404),
            )
        },
        "/auth/login": {
            "post": ops.op(
                "Sign in; sets the session cookie",
                rs.Session,
                body=rq.Login,
                errors=ops.errors(401, 422, s429="too-many-attempts (see Retry-After)"),
            )
        },
        "/auth/logout": {"post": ops.op("Sign out", None, errors=staff, staff=True)},
        "/auth/me": {"get": ops.op("The signed-in user", rs.Session, errors=staff, staff=True)},
        "/agent/agenda": {
            "get": ops.op(
                "The day's bookings (agent: own; admin: organisation)",
                rs.DayOfBookings,
                query=rq.DayQuery,
                errors=staff,
                staff=True,
            )
        },
        "/agent/bookings/{booking_id}/join": {
            "post": ops.op(
                "Host join token and call URL; the token is valid from not_before "
                "(30 min ahead of the slot) to expires_at (2 h after its end)",
                rs.HostJoin,
                path=booking_id,
                errors=staff | ops.errors(s409="booking-cancelled, booking-ended: no call"),
                staff=True,
            )
        },
        "/bookings/{booking_id}/files": {
            "post": ops.op(
                "Upload a PDF/PNG/JPEG for the call (multipart field 'file'); "
                "Authorization: Bearer <join or manage token>, or staff session. "
                "The name is stored cleaned (no folder or control character, 120 "
                "characters, extension of the content); a booking holds at most 20 "
                "documents (409 too-many-files) and 50 MB (413 files-quota) by default",
                json_answer(rs.File, "Stored"),
                status=201,
                path=booking_id,
                errors=staff | ops.errors(409, 413, 422),
            ),
            "get": ops.op("Documents of the booking", rs.Files, path=booking_id, errors=staff),
        },
        "/bookings/{booking_id}/files/{file_id}": {
            "get": ops.op(
                "Download one document",
                None,
                answer={
                    "description": "The document, with the type of its content",
                    "content": {
                        kind: {"schema": {"type": "string", "format": "binary"}}
                        for kind in ("application/pdf", "image/png", "image/jpeg")
                    },
                },
                path=(*booking_id, "file_id"),
                errors=staff,
            )
        },
        "/bookings/{booking_id}/survey": {
            "post": ops.op(
                "The citizen's satisfaction score (1-5); "
                "Authorization: Bearer <join or manage token>",
                rs.SurveyAnswer,
                path=booking_id,
                body=rq.Survey,
                errors=staff,
            )
        },
        "/agent/bookings": {
            "post": ops.op(
                "An agent books for a citizen (agent_id defaults to the agent)",
                json_answer(booked, "Booked"),
                status=201,
                body=rq.NewBooking,
                errors=staff | ops.errors(409),
                staff=True,
            )
        },
        "/partner/bookings": {
            "get": ops.op(
                "The day's bookings made at the partner point, with join links",
                rs.DayOfBookings,
                query=rq.DayQuery,
                errors=staff,
                staff=True,
            ),
            "post": ops.op(
                "A partner point books for a consenting citizen (consent: true required; "
                "the citizen may have neither email nor phone)",
                json_answer(booked, "Booked"),
                status=201,
                body=rq.PartnerBooking,
                errors=staff | ops.errors(409),
                staff=True,
            ),
        },
        "/stats": {
            "get": ops.op(
                "Statistics (admin: organisation; agent: own; partner: own point)",
                None,
                answer={
                    "description": "Rows of figures",
                    "content": {
                        "application/json": {"schema": ops.ref(rs.Statistics)},
                        "text/csv": {},
                    },
                },
                query=rq.StatsQuery,
                errors=staff,
                staff=True,
            )
        },
        "/queue": {
            "post": ops.op(
                "Ask for a call now (citizen; or partner session with consent: true)",
                json_answer(rs.QueueStatus, "Waiting; keep wait_token to follow"),
                status=201,
                body=rq.QueueRequest,
                errors=public | ops.errors(403),
            )
        },
        "/queue/{token}": {
            "get": ops.op(
                "Position, then join_url once an agent took the request",
                rs.QueueStatus,
                path=token,
                errors=public,
            )
        },
        "/queue/{token}/leave": {
            "post": ops.op("Leave the queue", None, path=token, errors=public | ops.errors(409))
        },
        "/agent/queue": {
            "get": ops.op("Waiting requests of the agent's service", None, errors=staff, staff=True)
        },
        "/agent/queue/events": {
            "get": ops.op(
                "Live queue (Server-Sent Events, event 'queue' with the list)",
                None,
                answer={"description": "SSE stream", "content": {"text/event-stream": {}}},
                errors=staff,
                staff=True,
            )
        },
        "/agent/queue/take": {
            "post": ops.op(
                "Take the longest-waiting request: host token and URL",
                None,
                errors=staff | ops.errors(409),
                staff=True,
            )
        },
        "/agent/bookings/{booking_id}/outcome": {
            "post": ops.op(
                "Record done or no-show",
                booked,
                path=booking_id,
                body=rq.Outcome,
                errors=staff | ops.errors(409),
                staff=True,
            )
        },
    }


@cache
def _document() -> dict[str, Any]:
    ops = Operations(rs.Error)
    paths = (
        openapi_management.paths(ops)
        | openapi_calendar.paths(ops)
        | openapi_site.paths(ops)
        | openapi_calls.paths(ops)
        | _paths(ops)
    )
    return {
        "openapi": "3.1.0",
        "info": {"title": "Visioguichet booking API", "version": "1", "description": _DESCRIPTION},
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": ops.schemas(rq, rs),
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "vg_session"},
                "csrf": {"type": "apiKey", "in": "header", "name": "X-CSRF-Token"},
            },
        },
        "paths": paths,
    }


def openapi_document() -> dict[str, Any]:
    """The document (built once: the models do not change while the service runs)."""
    return _document()
