"""OpenAPI operations of the people around a call: guests the agent invites (an
interpreter, a colleague, a relative), call-back requests, and the call's written
record."""

from __future__ import annotations

from typing import Any

from booking_api import api_requests as rq
from booking_api import api_responses as rs
from booking_api.openapi_operations import Operations, json_answer


def paths(ops: Operations) -> dict[str, Any]:
    staff = ops.errors(401, 403, 404)
    booking_id = ("booking_id",)
    return {
        "/agent/bookings/{booking_id}/guests": {
            "post": ops.op(
                "Invite a third person into the call: their own join link (role guest, "
                "named, through the lobby), valid over the booking's window like the "
                "citizen's; the call holds 4 people at most",
                json_answer(rs.GuestInvited, "Invited"),
                status=201,
                path=booking_id,
                body=rq.NewGuest,
                errors=staff
                | ops.errors(
                    s409="booking-cancelled, booking-ended, not-active or too-many-guests"
                ),
                staff=True,
            ),
            "get": ops.op(
                "Who was invited into the call (the citizen's companion included)",
                rs.Guests,
                path=booking_id,
                errors=staff,
                staff=True,
            ),
        },
        "/callbacks": {
            "post": ops.op(
                "Call me back: the video failed (pre-call check or call), the citizen "
                "leaves a number (read as French without +, kept in E.164); one open "
                "request a booking, asking again updates it. Authorization: Bearer <join "
                "or manage token>, which says the booking",
                json_answer(rs.Callback, "Asked"),
                status=201,
                body=rq.CallbackRequest,
                errors=ops.errors(401, s409="not-active: the appointment is over"),
            )
        },
        "/agent/callbacks": {
            "get": ops.op(
                "Citizens waiting to be called back (agent: own bookings and service; "
                "admin: organisation), oldest first",
                rs.Callbacks,
                errors=staff,
                staff=True,
            )
        },
        "/agent/callbacks/{callback_id}/done": {
            "post": ops.op(
                "Mark a call-back done (again: no change)",
                rs.Callback,
                path=("callback_id",),
                errors=staff,
                staff=True,
            )
        },
        "/agent/bookings/{booking_id}/chat": {
            "get": ops.op(
                "The call's written messages, kept with its record for staff (never "
                "given to the citizen after the call); purged with the booking",
                rs.ChatRecord,
                path=booking_id,
                errors=staff,
                staff=True,
            )
        },
    }
