"""When a booking's call may be entered, and ending the call when the booking closes.

A join token is signed once and cannot be recalled, while its booking can still be
cancelled, moved or closed. So tokens are minted for the booking's window only (a
margin ahead of the slot to a grace after its end), signalling asks this gate on every
join (through the composition) and the gate answers from the booking as it is now; and
when a booking is cancelled or closed, the gate has its live call ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from booking_api.booking_records import BookingRecord
from booking_api.context import BookingContext
from booking_api.interfaces import LiveCalls
from booking_api.slots import from_epoch

log = structlog.get_logger(__name__)

# The citizen's waiting room opens a quarter of an hour ahead: time to test the camera,
# not to sit there all morning. The agent may open the call earlier, to prepare.
GUEST_MARGIN_S = 15 * 60
HOST_MARGIN_S = 30 * 60
# Calls run over, and the citizen answers the survey with the join token afterwards.
JOIN_GRACE_S = 2 * 3600
# The same allowance for clock skew as the token verifier's.
CLOCK_LEEWAY_S = 30.0

CANCELLED = "cancelled"
FINISHED = frozenset({"done", "no-show"})
CLOSED = FINISHED | {CANCELLED}


@dataclass(frozen=True, slots=True)
class JoinRefusal:
    """Why a booking's room may not be entered now; ``code`` is a signalling error code
    (``too-early``, ``booking-cancelled``, ``booking-ended``)."""

    code: str
    message: str
    not_before: float | None = None


def join_window(start: datetime, end: datetime, role: str) -> tuple[float, float]:
    """(opens, closes) in epoch seconds for a participant of ``role``."""
    margin = GUEST_MARGIN_S if role == "guest" else HOST_MARGIN_S
    return start.timestamp() - margin, end.timestamp() + JOIN_GRACE_S


def refusal_for(
    status: str, start: datetime, end: datetime, role: str, now: float
) -> JoinRefusal | None:
    if status == CANCELLED:
        return JoinRefusal("booking-cancelled", "this appointment was cancelled")
    if status in FINISHED:
        return JoinRefusal("booking-ended", "this appointment is over")
    opens, closes = join_window(start, end, role)
    if now > closes + CLOCK_LEEWAY_S:
        return JoinRefusal("booking-ended", "this appointment is over")
    if now + CLOCK_LEEWAY_S < opens:
        at = datetime.fromtimestamp(opens, UTC).isoformat(timespec="minutes")
        return JoinRefusal("too-early", f"this appointment can be joined from {at}", opens)
    return None


class JoinGate:
    """What the composition wires to signalling: whether a room may be entered now, and
    the live calls to end when a booking closes."""

    def __init__(self, ctx: BookingContext) -> None:
        self._ctx = ctx

    async def refusal(
        self, room: str, role: str, *, now: float | None = None
    ) -> JoinRefusal | None:
        """None when ``room`` may be entered; a room that is no booking's (tokens the
        operator mints for load tests) is not the booking side's to refuse."""
        row = await self._ctx.database.fetch_one(
            "SELECT status, start_at, end_at FROM bookings WHERE id = ?", room
        )
        if row is None:
            return None
        return refusal_for(
            str(row["status"]),
            from_epoch(float(row["start_at"])),
            from_epoch(float(row["end_at"])),
            role,
            time.time() if now is None else now,
        )

    def end_live_calls_with(self, calls: LiveCalls) -> None:
        self._ctx.live_calls = calls


async def end_live_call(ctx: BookingContext, booking: BookingRecord) -> None:
    """After a booking was cancelled or closed, end its call if one is live.

    The change is committed already: a failure to reach the call is logged, not raised
    (the call's participants are refused at their next join all the same)."""
    if ctx.live_calls is None or booking.status not in CLOSED:
        return
    refusal = refusal_for(booking.status, booking.start, booking.end, "host", time.time())
    assert refusal is not None
    try:
        await ctx.live_calls.end(booking.id, refusal.code, refusal.message)
    except Exception:
        log.exception("live_call_not_ended", booking_id=booking.id, reason=refusal.code)
