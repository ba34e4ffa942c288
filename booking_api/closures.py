"""Days an organisation is closed: its public-holiday calendar and its own closure days.

The slot engine reads :func:`closed_days` for every agent of the organisation, so a day
added here disappears at once from the free slots and from the instant queue. Dates are
Paris calendar days (a closure covers the whole day, whatever the clocks do).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from booking_api.db import Connection, Database, UniqueViolation
from booking_api.errors import ApiError
from booking_api.public_holidays import (
    DEFAULT_CALENDAR,
    public_holidays,
)


@dataclass(frozen=True, slots=True)
class ClosureDay:
    day: date
    label: str

    def public(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "label": self.label}


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
