"""A booking as read from the database, and a citizen as a booking names them.

Plain records, apart from the code that books and notifies: ``bookings``, ``links`` and
``notifications`` all read them, and none of those has to import another to do so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from booking_api.db import Row
from booking_api.slots import from_epoch, to_paris_iso


@dataclass(frozen=True, slots=True)
class Citizen:
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class BookingRecord:
    id: str
    motif_id: str
    motif_label: str
    duration_min: int
    buffer_min: int
    service_id: str
    organisation_id: str
    organisation_name: str
    agent_id: str
    agent_name: str
    start: datetime
    end: datetime
    status: str
    channel: str
    booked_by: str
    partner_point_id: str | None
    citizen_name: str | None
    citizen_email: str | None
    citizen_phone: str | None
    locale: str
    created_at: int

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "start": to_paris_iso(self.start),
            "end": to_paris_iso(self.end),
            "channel": self.channel,
            "motif": {
                "id": self.motif_id,
                "label": self.motif_label,
                "duration_min": self.duration_min,
            },
            "organisation": {"id": self.organisation_id, "name": self.organisation_name},
            "service_id": self.service_id,
            "agent": {"id": self.agent_id, "name": self.agent_name},
            "booked_by": self.booked_by,
            "partner_point_id": self.partner_point_id,
            "citizen": {
                "name": self.citizen_name,
                "email": self.citizen_email,
                "phone": self.citizen_phone,
            },
            "locale": self.locale,
        }


def record_from_row(row: Row) -> BookingRecord:
    """A booking row joined with its motif, service, organisation and agent (the columns
    of ``bookings._SELECT``)."""
    return BookingRecord(
        id=row["id"],
        motif_id=row["motif_id"],
        motif_label=row["motif_label"],
        duration_min=int(row["duration_min"]),
        buffer_min=int(row["buffer_min"]),
        service_id=row["service_id"],
        organisation_id=row["organisation_id"],
        organisation_name=row["organisation_name"],
        agent_id=row["agent_id"],
        agent_name=row["agent_name"],
        start=from_epoch(row["start_at"]),
        end=from_epoch(row["end_at"]),
        status=row["status"],
        channel=row["channel"],
        booked_by=row["booked_by"],
        partner_point_id=row["partner_point_id"],
        citizen_name=row["citizen_name"],
        citizen_email=row["citizen_email"],
        citizen_phone=row["citizen_phone"],
        locale=row["locale"],
        created_at=int(row["created_at"]),
    )
