"""Checks of single request values: each returns the value as the service keeps it, or
raises a field error with a machine code (the pages translate it) and a French sentence
(what a client without translations shows).

The request models (``api_requests``) call these checks field by field; a field the
request leaves out reaches its check as :data:`MISSING`, so each field says in its own
words that it is required.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any, Final

import phonenumbers
from pydantic_core import PydanticCustomError

from booking_api.slots import PARIS


class _Missing:
    """A field the request does not carry (``null`` is a value, and may say otherwise)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 .\-()]{6,25}$")
EMAIL_PATTERN = _EMAIL.pattern
PHONE_PATTERN = _PHONE.pattern
# A name fits a greeting line and a calendar entry; the longest French civil names
# (several given names, a double surname) stay well under this.
MAX_NAME = 100
MAX_TEXT = 200
MAX_EMAIL = 254
MAX_PHONE = 30
MIN_PASSWORD = 10
MAX_PASSWORD = 256
_NOT_IN_A_NAME = ("://", "www.", "@", "<", ">", "{", "}", "\\")


def invalid(code: str, message: str, *, at: str | None = None) -> PydanticCustomError:
    """A field error. ``at`` names the field it belongs to when a check of one field
    judges another (the path from the model the check belongs to)."""
    return PydanticCustomError(code, message, {"at": at} if at else None)


def _present(value: Any) -> Any:
    return None if value is MISSING else value


_NOT_A_DATE = "Date attendue au format AAAA-MM-JJ."
_NOT_AN_INSTANT = "Date et heure attendues (ISO 8601, ex. 2026-11-24T09:30:00+01:00)."


def day(value: Any) -> date:
    """A YYYY-MM-DD day."""
    if not isinstance(value, str):
        raise invalid("not-a-date", _NOT_A_DATE)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid("not-a-date", _NOT_A_DATE) from None


def instant(value: Any) -> datetime:
    """An ISO 8601 date-time; one without offset is read as Paris time."""
    if not isinstance(value, str) or not value:
        raise invalid("not-a-date-time", _NOT_AN_INSTANT)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise invalid("not-a-date-time", _NOT_AN_INSTANT) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=PARIS)
    return parsed


# Characters that break a line or change what a reader sees without showing themselves:
# C0 and C1 controls and DEL (Unicode category Cc), the line and paragraph separators,
# and the bidirectional embeddings, overrides and isolates (U+202A–E, U+2066–9), which
# can make "moc.elgoog" read "google.com". A name or label lands in official mails.
_INVISIBLE_BREAKERS = frozenset(
    "\u2028\u2029\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def _hidden_character(text: str, *, multiline: bool) -> str | None:
    """The first character free text must not hold, or ``None``."""
    for char in text:
        if char == "\n" and multiline:
            continue
        if char in _INVISIBLE_BREAKERS or unicodedata.category(char) == "Cc":
            return char
    return None


def text(value: Any, max_len: int = MAX_TEXT, *, multiline: bool = False) -> str | None:
    """Free text from outside: one line (or lines, when ``multiline``) of printable
    characters, NFC-normalised and stripped, at most ``max_len`` characters; ``None``
    when absent or blank."""
    value = _present(value)
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("not-text", "Texte attendu.")
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if len(value) > max_len:
        raise invalid("too-long", f"{max_len} caractères au plus.")
    hidden = _hidden_character(value, multiline=multiline)
    if hidden is not None:
        message = (
            "Une seule ligne, sans caractère de contrôle."
            if not multiline
            else "Caractère de contrôle non autorisé."
        )
        raise invalid("control-character", f"{message} (U+{ord(hidden):04X})")
    return value or None


def required_text(
    value: Any, max_len: int = MAX_TEXT, message: str = "Ce champ est obligatoire."
) -> str:
    checked = text(value, max_len)
    if checked is None:
        raise invalid("required", message)
    return checked


def person_name(value: Any) -> str:
    """A person's name as people write it: letters, spaces, hyphens, apostrophes, dots;
    not an address, a link or markup, which have no place in a greeting line."""
    name = required_text(value, MAX_NAME, "Le nom est obligatoire.")
    if not any(unicodedata.category(c).startswith("L") for c in name):
        raise invalid("no-letter", "Le nom doit contenir au moins une lettre.")
    lowered = name.lower()
    if any(mark in lowered for mark in _NOT_IN_A_NAME):
        raise invalid(
            "not-a-name", "Indiquez seulement un nom (pas d’adresse, de lien ni de balise)."
        )
    return name


def contact_email(value: Any) -> str | None:
    """A citizen's email, if given; kept in lower case."""
    email = text(value, MAX_EMAIL)
    if email is not None and not _EMAIL.match(email):
        raise invalid("invalid-email", "Adresse email invalide.")
    return email.lower() if email else None


def contact_phone(value: Any) -> str | None:
    """A citizen's phone number as people write it (``06 12 34 56 78``, ``+33 6…``,
    ``0033…``), kept in E.164 (``+33612345678``) so that an SMS gateway takes it as is.
    A number without ``+`` is read as French; one that no numbering plan knows is refused
    (a typo caught at booking, not when the reminder fails)."""
    phone = text(value, MAX_PHONE)
    if phone is None:
        return None
    if not _PHONE.match(phone):
        raise invalid("invalid-phone", "Numéro de téléphone invalide.")
    try:
        number = phonenumbers.parse(phone, "FR")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise invalid(
            "unknown-phone-number",
            "Ce numéro n’existe pas : un numéro français (06 12 34 56 78) ou "
            "international avec l’indicatif (+32 …).",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def email(value: Any) -> str:
    """A staff account's email: required, kept in lower case."""
    address = required_text(value, MAX_EMAIL)
    if not _EMAIL.match(address):
        raise invalid("invalid-email", "Adresse email invalide.")
    return address.lower()


def password(value: Any) -> str:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD:
        raise invalid("too-short", f"Mot de passe de {MIN_PASSWORD} caractères au moins.")
    if len(value) > MAX_PASSWORD:
        raise invalid("too-long", f"{MAX_PASSWORD} caractères au plus.")
    return value


def whole_number(value: Any, *, low: int, high: int, step: int = 1) -> int:
    """A whole number within ``[low, high]``, a multiple of ``step``."""
    if value is MISSING:
        raise invalid("required", "Ce champ est obligatoire.")
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("not-an-integer", "Nombre entier attendu.")
    if not low <= value <= high:
        raise invalid("out-of-range", f"Valeur attendue entre {low} et {high}.")
    if value % step:
        raise invalid("wrong-step", f"Valeur attendue par pas de {step}.")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise invalid("not-a-boolean", "Vrai ou faux attendu (true / false).")
    return value
