"""The span of dates the service reads from a request, and the parsers that hold to it.

Every date or date-time that comes from outside is read here: within ``PAST_YEARS``
before and ``FUTURE_YEARS`` after today (Paris), edges included. Why those figures:

- 10 years back: the agenda, the partner's day and the statistics read history, and
  bookings are kept (anonymised) for statistics; a decade covers year-on-year figures
  over the service's life.
- 5 years ahead: the farthest anything is planned is a closure day (two years ahead)
  and a motif's booking horizon (one year at most); five years leaves room and still
  tells a typo (2205 for 2025) from a date.
- Both are far from what ``datetime`` can hold (years 1 to 9999), so the slot engine's
  "next day" and the Paris/UTC conversions can never overflow on an accepted date.

A malformed value is a field error among the others (422); a well-formed date outside
the window is a field error coded ``date-out-of-range`` that stops the request with a
400 naming the field (``field_errors``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from booking_api import validation
from booking_api.errors import ApiError
from booking_api.slots import PARIS

PAST_YEARS = 10
FUTURE_YEARS = 5


OUT_OF_RANGE = "date-out-of-range"


class DateOutOfRange(ApiError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(400, OUT_OF_RANGE, "Date hors de la période acceptée.", {field: message})


def _years_from(day: date, years: int) -> date:
    """The same day ``years`` later (earlier if negative); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def accepted_window(today: date | None = None) -> tuple[date, date]:
    """First and last day (inclusive) a request may name."""
    today = today or datetime.now(PARIS).date()
    return _years_from(today, -PAST_YEARS), _years_from(today, FUTURE_YEARS)


def _check(day: date) -> None:
    first, last = accepted_window()
    if not first <= day <= last:
        raise validation.invalid(
            OUT_OF_RANGE,
            f"Date attendue entre le {first.isoformat()} et le {last.isoformat()} "
            f"(au plus {PAST_YEARS} ans en arrière et {FUTURE_YEARS} ans à l’avance).",
        )


def day(value: Any) -> date:
    """A YYYY-MM-DD day within the window."""
    checked = validation.day(value)
    _check(checked)
    return checked


def instant(value: Any) -> datetime:
    """An ISO 8601 date-time within the window (its date as written is checked, before
    any conversion: a time zone moves it by a day at most)."""
    checked = validation.instant(value)
    _check(checked.date())
    return checked
