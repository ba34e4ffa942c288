"""What the booking API answers, declared once for ``/api/openapi.json``.

A field without a default is in every answer of that kind; ``sometimes()`` marks one
that some answers leave out (``manage_url`` only when just booked, a renamed service
without its motifs…). The tests validate real answers against the generated document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from booking_api.api_requests import WeeklyRule
from booking_api.catalogue import CHANNELS
from booking_api.public_holidays import CALENDAR_LABELS

Channel = Literal["video", "phone", "in-person"]
assert set(Channel.__args__) == set(CHANNELS)  # type: ignore[attr-defined]


def sometimes(description: str | None = None) -> Any:
    return Field(None, description=description)


class FieldError(BaseModel):
    field: str = Field(description="Path in the request, e.g. citizen.name or rules.2.start.")
    code: str = Field(
        description="Machine code the pages translate: required, too-long, "
        "control-character, invalid-email, contact-required, not-a-date, "
        "date-out-of-range, out-of-range, wrong-step, not-allowed, unknown…",
        examples=["too-long"],
    )
    message: str = Field(description="The same in French, for a client without translations.")


class Error(BaseModel):
    """Every error answer. ``fields`` (path -> French message) and ``field_errors`` (the
    same with a machine code each) name the fields at fault, for a 422 and some 400s and
    409s."""

    error: str = Field(examples=["validation", "slot-taken", "not-found"])
    message: str
    fields: dict[str, str] = sometimes()
    field_errors: list[FieldError] = sometimes()


class Motif(BaseModel):
    id: str
    label: str
    duration_min: int
    channels: list[Channel]
    video: bool
    notice_min: int
    horizon_days: int
    buffer_min: int
    needs_review: bool


class Named(BaseModel):
    id: str
    name: str


class Service(BaseModel):
    id: str
    name: str
    organisation: Named
    motifs: list[Motif]


class Slot(BaseModel):
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})
    agent_id: str


class Slots(BaseModel):
    motif_id: str
    timezone: Literal["Europe/Paris"]
    slots: list[Slot]


class BookedCitizen(BaseModel):
    """Whichever of email and phone was not given is null."""

    name: str | None
    email: str | None
    phone: str | None


class BookedMotif(BaseModel):
    id: str
    label: str
    duration_min: int


class Callback(BaseModel):
    id: str
    booking_id: str
    phone: str = Field(description="E.164")
    moment: Literal["precheck", "call"]
    requested_at: str = Field(json_schema_extra={"format": "date-time"})
    done: bool


class Booking(BaseModel):
    id: str = Field(description="Also the call's room.")
    status: Literal["booked", "pending", "cancelled", "done", "no-show"]
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})
    channel: str
    motif: BookedMotif
    organisation: Named
    service_id: str
    agent: Named
    citizen: BookedCitizen
    booked_by: Literal["self", "partner", "agent"]
    partner_point_id: str | None
    locale: str
    manage_url: str = sometimes("Only when just booked.")
    join_url: str | None = sometimes()
    can_cancel: bool = sometimes()
    can_reschedule: bool = sometimes()
    callback: Callback | None = sometimes("The open call-back request (staff's agenda only).")


class DayOfBookings(BaseModel):
    date: str = Field(json_schema_extra={"format": "date"})
    bookings: list[Booking]


class User(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["admin", "agent", "partner"]
    organisation_id: str | None
    service_id: str | None = sometimes()
    partner_point_id: str | None = sometimes()
    active: bool = sometimes()


class Session(BaseModel):
    user: User
    csrf_token: str


class HostJoin(BaseModel):
    token: str
    url: str
    room: str
    not_before: str = Field(json_schema_extra={"format": "date-time"})
    expires_at: str = Field(json_schema_extra={"format": "date-time"})


class File(BaseModel):
    id: str
    name: str
    content_type: Literal["application/pdf", "image/png", "image/jpeg"]
    size: int
    uploaded_by: str = sometimes()


class Files(BaseModel):
    files: list[File]


class SurveyAnswer(BaseModel):
    booking_id: str
    score: int
    comment: str | None


class QueueStatus(BaseModel):
    id: str
    status: Literal["waiting", "taken", "left"]
    position: int | None = sometimes()
    join_url: str | None = sometimes()
    agents_available: int = sometimes()
    wait_token: str = sometimes("Only in the 201 answer.")


class Statistics(BaseModel):
    from_: str = Field(alias="from", json_schema_extra={"format": "date"})
    to: str = Field(json_schema_extra={"format": "date"})
    group_by: str
    rows: list[dict[str, Any]]


class Absence(BaseModel):
    id: str
    start: str = Field(json_schema_extra={"format": "date-time"})
    end: str = Field(json_schema_extra={"format": "date-time"})
    reason: str | None
    conflicts: list[dict[str, Any]] = sometimes(
        "Only when just added: active appointments it overlaps."
    )


class Availability(BaseModel):
    agent: dict[str, Any]
    timezone: Literal["Europe/Paris"]
    rules: list[WeeklyRule]
    absences: list[Absence]
    available_now: bool = sometimes()


class ManagedMotif(BaseModel):
    id: str
    service_id: str
    label: str
    duration_min: int
    channels: list[Channel]
    video: bool
    notice_min: int
    horizon_days: int
    buffer_min: int
    needs_review: bool
    active: bool


class ManagedService(BaseModel):
    id: str
    name: str
    motifs: list[ManagedMotif] = sometimes("Not after a rename.")


class ManagedServices(BaseModel):
    services: list[ManagedService]


class Account(BaseModel):
    id: str
    name: str
    email: str
    role: Literal["agent", "partner"]
    service_id: str | None
    partner_point_id: str | None
    active: bool
    upcoming_bookings: int = sometimes("Agents only.")


class Agents(BaseModel):
    agents: list[Account]


class PartnerPoint(BaseModel):
    id: str
    name: str
    address: str
    staff: list[Account] = sometimes("Not after a change.")


class PartnerPoints(BaseModel):
    partner_points: list[PartnerPoint]


class ClosedDay(BaseModel):
    date: str = Field(json_schema_extra={"format": "date"}, examples=["2027-05-07"])
    label: str


class ClosureConflict(BaseModel):
    id: str
    start: str = Field(json_schema_extra={"format": "date-time"})
    motif: str
    agent: str
    citizen: BookedCitizen


_CONFLICTS = (
    "Active appointments already booked on the days just closed: they stay booked; "
    "contact the citizens to move them."
)


class AddedClosureDay(ClosedDay):
    conflicts: list[ClosureConflict] = Field(description=_CONFLICTS)


class Calendar(BaseModel):
    code: str
    label: str


class Closures(BaseModel):
    holiday_calendar: Literal[tuple(CALENDAR_LABELS)]  # type: ignore[valid-type]
    calendars: list[Calendar]
    public_holidays: list[ClosedDay] = Field(
        description="The coming year's public holidays of the chosen calendar."
    )
    closure_days: list[ClosedDay]
    conflicts: list[ClosureConflict] = sometimes(_CONFLICTS + " Only after a change of calendar.")


class Deleted(BaseModel):
    deleted: Literal[True]
    id: str = sometimes()
    date: str = sometimes()


class SiteIdentity(BaseModel):
    """The operator shown on citizen pages and in mails."""

    name: str
    colour: str = Field(description="#rrggbb")
    logo_url: str | None = Field(description="The sanitised PNG, or null without a logo.")
    logo_alt: str
    accessibility_status: Literal["non", "partiellement", "totalement"]
    accessibility_label: str
    state_marks: bool = Field(
        description="Whether the operator may show the State's marks (a flag of the service)."
    )


class LegalText(BaseModel):
    page: Literal["mentions-legales", "donnees-personnelles", "accessibilite"]
    title: str
    text: str = Field(description="As typed; the default naming the operator if not customised.")
    customised: bool
    url: str


class Guest(BaseModel):
    id: str
    kind: Literal["interpreter", "colleague", "relative", "companion"]
    name: str


class GuestInvited(BaseModel):
    guest: Guest
    url: str = Field(description="The guest's own join link (role guest, through the lobby).")
    not_before: str = Field(json_schema_extra={"format": "date-time"})
    expires_at: str = Field(json_schema_extra={"format": "date-time"})


class Guests(BaseModel):
    guests: list[Guest]


class OpenCallback(Callback):
    citizen_name: str | None
    motif: str
    start: str = Field(json_schema_extra={"format": "date-time"})


class Callbacks(BaseModel):
    callbacks: list[OpenCallback]


class ChatMessage(BaseModel):
    at: str = Field(json_schema_extra={"format": "date-time"})
    name: str
    role: str
    text: str


class ChatRecord(BaseModel):
    messages: list[ChatMessage]
