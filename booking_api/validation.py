"""Reading and checking request fields, each error a French sentence keyed by field path."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from booking_api.bookings import Citizen
from booking_api.errors import ValidationFailed
from booking_api.slots import PARIS

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9 .\-()]{6,25}$")
MAX_NAME = 200


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


def optional_text(value: Any, field: str, errors: dict[str, str], max_len: int = 200) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        errors[field] = "Texte attendu."
        return None
    value = value.strip()
    if len(value) > max_len:
        errors[field] = f"{max_len} caractères au plus."
        return None
    return value or None


def parse_citizen(
    value: Any, errors: dict[str, str], *, require_contact: bool = True
) -> Citizen | None:
    if not isinstance(value, dict):
        errors["citizen"] = "Les coordonnées de l’usager sont obligatoires."
        return None
    name = optional_text(value.get("name"), "citizen.name", errors, MAX_NAME)
    if name is None and "citizen.name" not in errors:
        errors["citizen.name"] = "Le nom est obligatoire."
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
