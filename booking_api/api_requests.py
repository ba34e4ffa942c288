"""Every request body and query of the booking API, declared once: the handlers read
requests through these models (``field_errors.read``) and ``/api/openapi.json`` is
generated from them (``openapi``).

Pydantic v2 rather than msgspec: it reports every field error of a request at once, each
with its place (``citizen.name``, ``rules.2.start``) and a code of our own, which the
pages translate; msgspec stops at the first error. Its JSON Schema output is OpenAPI 3.1.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic import field_validator as after

from booking_api import legal_text, site_identity, validation
from booking_api.api_fields import (
    Address,
    ContactEmail,
    ContactPhone,
    Email,
    Flag,
    Instant,
    Label,
    OptionalDay,
    OptionalText,
    Password,
    PersonName,
    absent,
    checked_even_if_absent,
    object_expected,
    one_of,
    required,
    whole_number,
    whole_number_schema,
)
from booking_api.catalogue import CHANNELS
from booking_api.mail_text import LOCALES
from booking_api.public_holidays import CALENDAR_LABELS
from booking_api.statistics import GROUPS
from booking_api.validation import MISSING, invalid

MAX_COMMENT = 1000
MAX_RULES = 42
MAX_ABSENCE_DAYS = 366
MAX_CLOSURE_AHEAD_DAYS = 731  # closures are planned up to two years ahead
OUTCOMES = ("done", "no-show")


class RequestModel(BaseModel):
    """Unknown fields are ignored, as a client of an older or newer page may send them."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")


# --- booking ------------------------------------------------------------------------


def _motif_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("required", "Le motif est obligatoire.")
    return value


def _agent_id(value: Any) -> str | None:
    if value is None or value is MISSING:
        return None
    if not isinstance(value, str):
        raise invalid("not-an-id", "Identifiant de conseiller invalide.")
    return value


def _locale(value: Any) -> str:
    locale = validation.text(value) or "fr"
    if locale not in LOCALES:
        raise invalid("not-allowed", "Langue prise en charge : fr ou en.")
    return locale


def _consent(value: Any) -> bool:
    if value is not True:
        raise invalid(
            "consent-required", "Le consentement de l’usager est obligatoire (consent: true)."
        )
    return True


MotifId = Annotated[str, PlainValidator(_motif_id), WithJsonSchema({"type": "string"})]
AgentId = Annotated[
    str | None, PlainValidator(_agent_id), WithJsonSchema({"type": ["string", "null"]})
]
Channel = Annotated[
    str | None, PlainValidator(validation.text), WithJsonSchema({"enum": list(CHANNELS)})
]
Locale = Annotated[str, PlainValidator(_locale), WithJsonSchema({"enum": list(LOCALES)})]


class Citizen(RequestModel):
    """Name, and an email and/or a phone number (a partner point may book without
    either: it hosts the call)."""

    name: PersonName = required()
    email: ContactEmail = checked_even_if_absent()
    phone: ContactPhone = checked_even_if_absent()

    @after("phone")
    @classmethod
    def _a_way_to_reach(cls, phone: str | None, info: ValidationInfo) -> str | None:
        wanted = (info.context or {}).get("require_contact", True)
        if wanted and phone is None and "email" in info.data and info.data["email"] is None:
            raise invalid(
                "contact-required",
                "Indiquez une adresse email ou un numéro de téléphone.",
                at="email",
            )
        return phone


CitizenField = Annotated[Citizen, object_expected("Les coordonnées de l’usager sont obligatoires.")]


class Companion(RequestModel):
    """Somebody the citizen brings into the call (a relative, a carer, an interpreter of
    their own): a name and an email and/or a phone number, where their own link goes."""

    name: PersonName = required()
    email: ContactEmail = checked_even_if_absent()
    phone: ContactPhone = checked_even_if_absent()

    @after("phone")
    @classmethod
    def _a_way_to_reach(cls, phone: str | None, info: ValidationInfo) -> str | None:
        if phone is None and "email" in info.data and info.data["email"] is None:
            raise invalid(
                "contact-required",
                "Indiquez l’adresse email ou le numéro de téléphone de la personne qui "
                "vous accompagne.",
                at="email",
            )
        return phone


def _companion_object(value: Any) -> Any:
    if value is not None and not isinstance(value, dict):
        raise invalid("required", "La personne qui vous accompagne : nom et contact attendus.")
    return value


class NewBooking(RequestModel):
    motif_id: MotifId = required()
    start: Instant = required()
    agent_id: AgentId = None
    channel: Channel = Field(None, description="Default: video if the motif offers it.")
    locale: Locale = Field("fr", description="Language of the mails.")
    citizen: CitizenField = required()
    companion: Annotated[Companion | None, BeforeValidator(_companion_object)] = Field(
        None,
        description="A third person in the call, who gets their own join link (through the "
        "lobby) by mail or SMS.",
    )


class PartnerBooking(NewBooking):
    """A partner point books for a consenting citizen, who may have neither email nor
    phone (read with ``require_contact=False``)."""

    consent: Annotated[bool, PlainValidator(_consent), WithJsonSchema({"const": True})] = required()


GUEST_KINDS = ("interpreter", "colleague", "relative")


def _guest_kind(value: Any) -> str:
    if value is MISSING or value is None:
        return "relative"
    return one_of(GUEST_KINDS, "Qualité : interprète, collègue ou proche.")(value)


class NewGuest(RequestModel):
    """A guest the agent invites into the call: the name the others see."""

    name: PersonName = required()
    kind: Annotated[
        str, PlainValidator(_guest_kind), WithJsonSchema({"enum": list(GUEST_KINDS)})
    ] = Field("relative", description="interpreter, colleague or relative (default).")


CALLBACK_MOMENTS = ("precheck", "call")


def _callback_phone(value: Any) -> str:
    phone = validation.contact_phone(value)
    if phone is None:
        raise invalid("required", "Indiquez le numéro auquel vous rappeler.")
    return phone


class CallbackRequest(RequestModel):
    """A call-back request: the number to call the citizen at, when the video failed."""

    phone: Annotated[
        str,
        PlainValidator(_callback_phone),
        WithJsonSchema(
            {
                "type": "string",
                "maxLength": validation.MAX_PHONE,
                "description": "Read as French without +, kept in E.164.",
            }
        ),
    ] = required()
    moment: Annotated[
        str,
        PlainValidator(one_of(CALLBACK_MOMENTS, "Moment : precheck ou call.")),
        WithJsonSchema({"enum": list(CALLBACK_MOMENTS)}),
    ] = Field("call", description="When the video failed: the pre-call check or the call.")


class Reschedule(RequestModel):
    start: Instant = required()


def _other_agent(value: Any) -> str | None:
    if value is None or value is MISSING:
        return None
    if not isinstance(value, str) or not value:
        raise invalid("not-an-id", "Identifiant de conseiller invalide.")
    return value


class StaffReschedule(RequestModel):
    start: Instant = required()
    agent_id: Annotated[
        str | None, PlainValidator(_other_agent), WithJsonSchema({"type": "string"})
    ] = Field(
        None, description="The agent to move to; by default any agent of the service free then."
    )


def _outcome(value: Any) -> str:
    if value not in OUTCOMES:
        raise invalid("not-allowed", "Le statut doit être « done » ou « no-show ».")
    return str(value)


class Outcome(RequestModel):
    status: Annotated[str, PlainValidator(_outcome), WithJsonSchema({"enum": list(OUTCOMES)})] = (
        required()
    )


def _score(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
        raise invalid("out-of-range", "Note entière de 1 à 5 attendue.")
    return value


def _comment(value: Any) -> str | None:
    return validation.text(value, MAX_COMMENT, multiline=True)


class Survey(RequestModel):
    score: Annotated[
        int,
        PlainValidator(_score),
        WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 5}),
    ] = required()
    comment: Annotated[
        str | None,
        PlainValidator(_comment),
        WithJsonSchema(
            {
                "type": ["string", "null"],
                "maxLength": MAX_COMMENT,
                "description": "Several lines allowed; no other control character.",
            }
        ),
    ] = None


# --- the instant queue ----------------------------------------------------------------


def _queue_motif(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _as_object(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


class QueueCitizen(RequestModel):
    name: PersonName = required()


class QueueRequest(RequestModel):
    motif_id: Annotated[
        str | None, PlainValidator(_queue_motif), WithJsonSchema({"type": "string"})
    ] = required()
    citizen: Annotated[QueueCitizen, BeforeValidator(_as_object)] = required()
    consent: Annotated[
        bool, PlainValidator(lambda v: v is True), WithJsonSchema({"type": "boolean"})
    ] = Field(False, description="Required (true) when a partner point asks.")


# --- signing in -------------------------------------------------------------------------


def _login_email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("required", "L’adresse email est obligatoire.")
    return value


def _login_password(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("required", "Le mot de passe est obligatoire.")
    return value


class Login(RequestModel):
    email: Annotated[str, PlainValidator(_login_email), WithJsonSchema({"type": "string"})] = (
        required()
    )
    password: Annotated[
        str, PlainValidator(_login_password), WithJsonSchema({"type": "string"})
    ] = required()


# --- queries ------------------------------------------------------------------------------


class SlotsQuery(RequestModel):
    from_: OptionalDay = Field(None, alias="from", description="First day, default today.")
    to: OptionalDay = Field(None, description="Last day, default from + 13 days.")


class DayQuery(RequestModel):
    date: OptionalDay = Field(None, description="Default today (Paris).")


class StatsQuery(RequestModel):
    from_: OptionalDay = Field(None, alias="from", description="First day, default 30 days ago.")
    to: OptionalDay = Field(None, description="Last day, default today.")
    group_by: Annotated[
        str,
        PlainValidator(one_of(list(GROUPS), "Regroupement possible : " + ", ".join(GROUPS) + ".")),
        WithJsonSchema({"enum": list(GROUPS)}),
    ] = "motif"
    format: Annotated[
        str,
        PlainValidator(one_of(("json", "csv"), "Format possible : json ou csv.")),
        WithJsonSchema({"enum": ["json", "csv"]}),
    ] = "json"


# --- availability and absences ---------------------------------------------------------


_TIME = "Heure attendue au format HH:MM (00:00 à 24:00)."


_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


def _wall_minutes(value: Any) -> int:
    """``HH:MM`` (00:00 to 24:00, by 5 minutes) as minutes from midnight."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    minutes = int(match[1]) * 60 + int(match[2]) if match else None
    if minutes is None or minutes > 24 * 60:
        raise invalid("not-a-time", _TIME)
    if minutes % 5:
        raise invalid("wrong-step", "Heure attendue par pas de 5 minutes.")
    return minutes


def _weekday(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 6:
        raise invalid("not-a-weekday", "Jour attendu de 0 (lundi) à 6 (dimanche).")
    return value


WallTime = Annotated[
    int,
    PlainValidator(_wall_minutes),
    WithJsonSchema(
        {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$", "examples": ["09:00"]}
    ),
]


class WeeklyRule(RequestModel):
    weekday: Annotated[
        int,
        PlainValidator(_weekday),
        WithJsonSchema(
            {"type": "integer", "minimum": 0, "maximum": 6, "description": "0 = Monday"}
        ),
    ] = required()
    start: WallTime = required()
    end: WallTime = required()

    @after("end")
    @classmethod
    def _after_start(cls, end: int, info: ValidationInfo) -> int:
        start = info.data.get("start")
        if start is not None and end <= start:
            raise invalid("end-before-start", "La fin doit suivre le début.")
        return end


def _rule_list(value: Any) -> Any:
    if not isinstance(value, list):
        raise invalid("not-a-list", "Liste de plages horaires attendue.")
    if len(value) > MAX_RULES:
        raise invalid("too-many", f"{MAX_RULES} plages au plus.")
    return value


class WeeklyRules(RequestModel):
    """The whole weekly timetable (Europe/Paris wall times); ranges of one day must not
    overlap."""

    rules: Annotated[
        list[
            Annotated[
                WeeklyRule,
                object_expected("Plage attendue : {weekday, start, end}.", "not-an-object"),
            ]
        ],
        BeforeValidator(_rule_list),
        Field(max_length=MAX_RULES),
    ] = required()


class NewAbsence(RequestModel):
    start: Instant = required()
    end: Instant = required()
    reason: OptionalText = None

    @after("end")
    @classmethod
    def _a_coming_span(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("start")
        if start is None:
            return end
        now = (info.context or {}).get("now") or datetime.now(UTC)
        if end <= start:
            raise invalid("end-before-start", "La fin de l’absence doit suivre son début.")
        if end <= now:
            raise invalid("already-ended", "Cette absence est déjà terminée.")
        if end - start > timedelta(days=MAX_ABSENCE_DAYS):
            raise invalid("too-long", f"Une absence dure {MAX_ABSENCE_DAYS} jours au plus.")
        return end


# --- closures ------------------------------------------------------------------------------


_CLOSURE_DATE = "Date attendue au format AAAA-MM-JJ."


def _closure_date(value: Any, info: ValidationInfo) -> date:
    """A coming Paris day, at most two years ahead (``today`` in the context)."""
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise invalid("not-a-date", _CLOSURE_DATE)
    today: date = (info.context or {})["today"]
    if day < today:
        raise invalid("in-the-past", "Cette date est déjà passée.")
    if day > today + timedelta(days=MAX_CLOSURE_AHEAD_DAYS):
        raise invalid("too-far-ahead", "Une fermeture se prévoit au plus deux ans à l’avance.")
    return day


def _closure_label(value: Any) -> str:
    # the free-text rules of every label (one line, no control or bidi character)
    return validation.required_text(
        value, message="Indiquez la raison de la fermeture (ex. pont, grève)."
    )


class ClosureDay(RequestModel):
    date: Annotated[
        date,
        PlainValidator(_closure_date),
        WithJsonSchema({"type": "string", "format": "date", "examples": ["2027-05-07"]}),
    ] = required()
    label: Annotated[
        str,
        PlainValidator(_closure_label),
        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": validation.MAX_TEXT}),
    ] = required()


class HolidayCalendar(RequestModel):
    holiday_calendar: Annotated[
        str,
        PlainValidator(
            one_of(
                list(CALENDAR_LABELS), "Calendrier possible : " + ", ".join(CALENDAR_LABELS) + "."
            )
        ),
        WithJsonSchema({"enum": list(CALENDAR_LABELS)}),
    ] = required()


# --- an administrator's services, motifs, accounts and partner points ----------------------


class ServiceName(RequestModel):
    name: Label = required()


def _channels(value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not value
        or any(c not in CHANNELS for c in value)
        or len(set(value)) != len(value)
    ):
        raise invalid("not-allowed", "Un ou plusieurs canaux parmi : " + ", ".join(CHANNELS) + ".")
    return [c for c in CHANNELS if c in value]


Channels = Annotated[
    list[str],
    PlainValidator(_channels),
    WithJsonSchema(
        {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(CHANNELS)},
        }
    ),
]
# Durations and buffers count in the slot engine's 5-minute blocks, so that neighbouring
# slots never share a block.
Duration = Annotated[int, whole_number(5, 480, 5), whole_number_schema(5, 480, 5)]
Notice = Annotated[
    int,
    whole_number(0, 60 * 24 * 60, 5),
    whole_number_schema(0, 60 * 24 * 60, 5, "Minutes of notice a booking needs."),
]
Horizon = Annotated[
    int, whole_number(1, 365), whole_number_schema(1, 365, 1, "Days ahead one may book.")
]
Buffer = Annotated[
    int,
    whole_number(0, 240, 5),
    whole_number_schema(0, 240, 5, "Minutes kept free after each appointment."),
]


class MotifChange(RequestModel):
    """The fields to change; the others keep their value."""

    label: Label = absent()
    duration_min: Duration = absent()
    channels: Channels = absent()
    notice_min: Notice = absent()
    horizon_days: Horizon = absent()
    buffer_min: Buffer = absent()
    needs_review: Flag = absent()
    active: Flag = absent()

    def values(self) -> dict[str, Any]:
        """The fields the request gave (a new motif: all, defaults filled in)."""
        return {name: getattr(self, name) for name in self.given()}

    def given(self) -> set[str]:
        return set(self.model_fields_set)


class NewMotif(MotifChange):
    label: Label = required()
    duration_min: Duration = required()
    channels: Channels = required()
    notice_min: Notice = 60
    horizon_days: Horizon = 60
    buffer_min: Buffer = 0
    needs_review: Flag = False
    active: Flag = True

    def given(self) -> set[str]:
        return set(type(self).model_fields)


class NewAccount(RequestModel):
    name: Label = required()
    email: Email = required()
    password: Password = required()


def _service_id(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("required", "Choisissez le service du conseiller.")
    return value


class NewAgent(NewAccount):
    service_id: Annotated[str, PlainValidator(_service_id), WithJsonSchema({"type": "string"})] = (
        required()
    )


class AccountChange(RequestModel):
    """The fields to change; ``active: false`` also signs the account out everywhere."""

    name: Label = absent()
    active: Flag = absent()


class AgentChange(AccountChange):
    service_id: Label = absent()


class PartnerPointChange(RequestModel):
    name: Label = absent()
    address: Address = absent()

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}


class NewPartnerPoint(PartnerPointChange):
    name: Label = required()
    address: Address = required()


# --- the operator's identity and the legal pages (booking_api.site_identity) --------


def _operator_name(value: Any) -> str | None:
    return validation.text(value, site_identity.MAX_NAME)


def _colour(value: Any) -> str | None:
    checked = validation.text(value, 7)
    if checked is None:
        return None
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", checked):
        raise invalid("not-a-colour", "Couleur attendue au format #RRVVBB, ex. #000091.")
    ratio = site_identity.contrast_with_white(checked)
    if ratio < site_identity.MIN_CONTRAST:
        raise invalid(
            "low-contrast",
            f"Contraste de {ratio:.1f}:1 avec le blanc : "
            f"{site_identity.MIN_CONTRAST}:1 au moins (choisissez une couleur plus foncée).",
        )
    return checked.lower()


def _accessibility_status(value: Any) -> str | None:
    if value is None:
        return None
    return one_of(site_identity.ACCESSIBILITY_LEVELS, "non, partiellement ou totalement.")(value)


def _legal_body(value: Any) -> str | None:
    if value is None:
        return None
    checked = validation.text(value, legal_text.MAX_BODY, multiline=True)
    if checked is None:
        raise invalid("required", "Texte vide : null rétablit le texte par défaut.")
    return checked


_CLEARS = "null goes back to the value of the service's flags"


class SiteIdentityChange(RequestModel):
    """The fields given change; ``null`` clears one back to the flags' value."""

    name: Annotated[
        str | None,
        PlainValidator(_operator_name),
        WithJsonSchema(
            {
                "type": ["string", "null"],
                "maxLength": site_identity.MAX_NAME,
                "description": _CLEARS,
            }
        ),
    ] = absent()
    colour: Annotated[
        str | None,
        PlainValidator(_colour),
        WithJsonSchema(
            {
                "type": ["string", "null"],
                "pattern": "^#[0-9a-fA-F]{6}$",
                "description": "#rrggbb with 4.5:1 contrast on white; " + _CLEARS,
            }
        ),
    ] = absent()
    logo_alt: OptionalText = absent("The logo's text alternative; " + _CLEARS)
    accessibility_status: Annotated[
        str | None,
        PlainValidator(_accessibility_status),
        WithJsonSchema(
            {
                "enum": [*site_identity.ACCESSIBILITY_LEVELS, None],
                "description": "The RGAA level declared (non without an audit)",
            }
        ),
    ] = absent()


class LegalTextChange(RequestModel):
    """The page's text (blank lines between paragraphs, ``## `` a heading, ``- `` a
    list item, https:// addresses made links; no HTML); ``null`` restores the default."""

    text: Annotated[
        str | None,
        PlainValidator(_legal_body),
        WithJsonSchema({"type": ["string", "null"], "maxLength": legal_text.MAX_BODY}),
    ] = required()
