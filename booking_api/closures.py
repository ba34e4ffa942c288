"""Days an organisation is closed: its public-holiday calendar and its own closure days.

The slot engine reads :func:`closed_days` for every agent of the organisation, so a day
added here disappears at once from the free slots and from the instant queue. Dates are
Paris calendar days (a closure covers the whole day, whatever the clocks do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from booking_api.db import Connection, Database, UniqueViolation
from booking_api.errors import ApiError
from booking_api.public_holidays import (
    CALENDAR_LABELS,
    DEFAULT_CALENDAR,
    public_holidays,
)

MAX_AHEAD_DAYS = 731  # closures are planned up to two years ahead
MAX_LABEL = 200


@dataclass(frozen=True, slots=True)
class ClosureDay:
    day: date
    label: str

    def public(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "label": self.label}


def parse_closure_day(
    body: dict[str, Any], errors: dict[str, str], today: date
) -> ClosureDay | None:
    """``date`` (YYYY-MM-DD, today or later) and a ``label`` saying why."""
    value = body.get("date")
    day: date | None = None
    try:
        day = date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None:
        errors["date"] = "Date attendue au format AAAA-MM-JJ."
    elif day < today:
        errors["date"] = "Cette date est déjà passée."
    elif day > today + timedelta(days=MAX_AHEAD_DAYS):
        errors["date"] = "Une fermeture se prévoit au plus deux ans à l’avance."
    label = body.get("label")
    if not isinstance(label, str) or not label.strip():
        errors["label"] = "Indiquez la raison de la fermeture (ex. pont, grève)."
    elif len(label.strip()) > MAX_LABEL:
        errors["label"] = f"{MAX_LABEL} caractères au plus."
    if errors or day is None or not isinstance(label, str):
        return None
    return ClosureDay(day, label.strip())


def parse_calendar(body: dict[str, Any], errors: dict[str, str]) -> str | None:
    code = body.get("holiday_calendar")
    if not isinstance(code, str) or code not in CALENDAR_LABELS:
        errors["holiday_calendar"] = "Calendrier possible : " + ", ".join(CALENDAR_LABELS) + "."
        return None
    return code


async def holiday_calendar(db: Database | Connection, organisation_id: str) -> str:
    row = await db.fetch_one(
        "SELECT holiday_calendar FROM organisations WHERE id = ?", organisation_id
    )
    return str(row["holiday_calendar"]) if row else DEFAULT_CALENDAR


async def set_holiday_calendar(db: Database, organisation_id: str, code: str) -> None:
    await db.execute(
        "UPDATE organisations SET holiday_calendar = ? WHERE id = ?", code, organisation_id
    )


async def closure_days(
    db: Database | Connection, organisation_id: str, first: date, last: date
) -> list[ClosureDay]:
    rows = await db.fetch_all(
        "SELECT day, label FROM closure_days WHERE organisation_id = ? AND day >= ? AND day <= ? "
        "ORDER BY day",
        organisation_id,
        first.isoformat(),
        last.isoformat(),
    )
    return [ClosureDay(date.fromisoformat(r["day"]), r["label"]) for r in rows]


async def closed_days(
    db: Database | Connection, organisation_id: str, first: date, last: date
) -> dict[date, str]:
    """Every day from ``first`` to ``last`` the organisation is closed, with the reason."""
    calendar = await holiday_calendar(db, organisation_id)
    days = public_holidays(calendar, first, last)
    days.update((c.day, c.label) for c in await closure_days(db, organisation_id, first, last))
    return days


async def add_closure_day(db: Database, organisation_id: str, closure: ClosureDay) -> None:
    try:
        await db.execute(
            "INSERT INTO closure_days (organisation_id, day, label, created_at) "
            "VALUES (?, ?, ?, ?)",
            organisation_id,
            closure.day.isoformat(),
            closure.label,
            int(time.time()),
        )
    except UniqueViolation as exc:
        raise ApiError(
            409,
            "closure-exists",
            "Ce jour est déjà un jour de fermeture.",
            {"date": "Ce jour est déjà un jour de fermeture."},
        ) from exc


async def remove_closure_day(db: Database, organisation_id: str, day: date) -> bool:
    deleted = await db.execute(
        "DELETE FROM closure_days WHERE organisation_id = ? AND day = ?",
        organisation_id,
        day.isoformat(),
    )
    return deleted == 1
