"""Who may see or act on which booking: the organisation boundary is never crossed."""

from __future__ import annotations

from booking_api.auth import User
from booking_api.booking_records import BookingRecord
from booking_api.errors import not_found


def may_access(user: User, booking: BookingRecord) -> bool:
    if user.role == "admin":
        return user.organisation_id == booking.organisation_id
    if user.role == "agent":
        return booking.agent_id == user.id or (
            user.service_id is not None and user.service_id == booking.service_id
        )
    if user.role == "partner":
        return (
            user.partner_point_id is not None and booking.partner_point_id == user.partner_point_id
        )
    return False


def ensure_access(user: User, booking: BookingRecord | None) -> BookingRecord:
    """The booking, or 404: another organisation's bookings do not exist for this user."""
    if booking is None or not may_access(user, booking):
        raise not_found("Rendez-vous introuvable.")
    return booking
