"""Reading and checking request fields, each error a French sentence keyed by field path."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Any

from booking_api.booking_records import Citizen
from booking_api.errors import ValidationFailed
from booking_api.slots import PARIS

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 .\-()]{6,25}$")
# A name fits a greeting line and a calendar entry; the longest French civil names
# (several given names, a double surname) stay well under this.
MAX_NAME = 100
_NOT_IN_A_NAME = ("://", "www.", "@", "<", ">", "{", "}", "\\")


def parse_date(value: Any, field: str, errors: dict[str, str]) -> date | None:
    if not isinstance(value, str):
        errors[field] = "Date attendue au format AAAA-MM-JJ."
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[field] = "Date attendue au format AAAA-MM-JJ."
        return None


def parse_instant(value: Any, field: str, errors: dict[str, str]) -> datetime | None:
    """An ISO 8601 date-time; one without offset is read as Paris time."""
    if not isinstance(value, str) or not value:
        errors[field] = "Date et heure attendues (ISO 8601, ex. 2026-11-24T09:30:00+01:00)."
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = "Date et heure attendues (ISO 8601, ex. 2026-11-24T09:30:00+01:00)."
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=PARIS)
    return instant


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


def optional_text(
    value: Any,
    field: str,
    errors: dict[str, str],
    max_len: int = 200,
    *,
    multiline: bool = False,
) -> str | None:
    """Free text from outside: one line (or lines, when ``multiline``) of printable
    characters, NFC-normalised and stripped, at most ``max_len`` characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = "Texte attendu."
        return None
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n")).strip()
    if len(value) > max_len:
        errors[field] = f"{max_len} caractères au plus."
        return None
    hidden = _hidden_character(value, multiline=multiline)
    if hidden is not None:
        errors[field] = (
            "Une seule ligne, sans caractère de contrôle."
            if not multiline
            else "Caractère de contrôle non autorisé."
        ) + f" (U+{ord(hidden):04X})"
        return None
    return value or None


def parse_person_name(value: Any, field: str, errors: dict[str, str]) -> str | None:
    """A person's name as people write it: letters, spaces, hyphens, apostrophes, dots;
    not an address, a link or markup, which have no place in a greeting line."""
    name = optional_text(value, field, errors, MAX_NAME)
    if name is None:
        if field not in errors:
            errors[field] = "Le nom est obligatoire."
        return None
    if not any(unicodedata.category(c).startswith("L") for c in name):
        errors[field] = "Le nom doit contenir au moins une lettre."
        return None
    lowered = name.lower()
    if any(mark in lowered for mark in _NOT_IN_A_NAME):
        errors[field] = "Indiquez seulement un nom (pas d’adresse, de lien ni de balise)."
        return None
    return name


def parse_citizen(
    value: Any, errors: dict[str, str], *, require_contact: bool = True
) -> Citizen | None:
    if not isinstance(value, dict):
        errors["citizen"] = "Les coordonnées de l’usager sont obligatoires."
        return None
    name = parse_person_name(value.get("name"), "citizen.name", errors)
    email = optional_text(value.get("email"), "citizen.email", errors, 254)
    if email is not None and not _EMAIL.match(email):
        errors["citizen.email"] = "Adresse email invalide."
    phone = optional_text(value.get("phone"), "citizen.phone", errors, 30)
    if phone is not None and not _PHONE.match(phone):
        errors["citizen.phone"] = "Numéro de téléphone invalide."
    if (
        require_contact
        and email is None
        and phone is None
        and "citizen.email" not in errors
        and "citizen.phone" not in errors
    ):
        errors["citizen.email"] = "Indiquez une adresse email ou un numéro de téléphone."
    if any(key.startswith("citizen") for key in errors):
        return None
    assert name is not None
    return Citizen(name=name, email=email.lower() if email else None, phone=phone)


def raise_if(errors: dict[str, str]) -> None:
    if errors:
        raise ValidationFailed(errors)


def required_text(value: Any, field: str, errors: dict[str, str], max_len: int = 200) -> str | None:
    text = optional_text(value, field, errors, max_len)
    if text is None and field not in errors:
        errors[field] = "Ce champ est obligatoire."
    return text


def parse_int(
    value: Any, field: str, errors: dict[str, str], *, low: int, high: int, step: int = 1
) -> int | None:
    """A whole number within ``[low, high]``, a multiple of ``step``."""
    if not isinstance(value, int) or isinstance(value, bool):
        errors[field] = "Nombre entier attendu."
        return None
    if not low <= value <= high:
        errors[field] = f"Valeur attendue entre {low} et {high}."
        return None
    if value % step:
        errors[field] = f"Valeur attendue par pas de {step}."
        return None
    return value


def parse_bool(value: Any, field: str, errors: dict[str, str]) -> bool | None:
    if not isinstance(value, bool):
        errors[field] = "Vrai ou faux attendu (true / false)."
        return None
    return value


def parse_email(value: Any, field: str, errors: dict[str, str]) -> str | None:
    email = required_text(value, field, errors, 254)
    if email is not None and not _EMAIL.match(email):
        errors[field] = "Adresse email invalide."
        return None
    return email.lower() if email else None


MIN_PASSWORD = 10


def parse_password(value: Any, field: str, errors: dict[str, str]) -> str | None:
    if not isinstance(value, str) or len(value) < MIN_PASSWORD:
        errors[field] = f"Mot de passe de {MIN_PASSWORD} caractères au moins."
        return None
    if len(value) > 256:
        errors[field] = "256 caractères au plus."
        return None
    return value
