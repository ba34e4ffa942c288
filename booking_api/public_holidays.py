"""Public holidays (jours fériés) an organisation closes on, from the ``holidays`` package.

The dates of the movable feasts (Easter Monday, Ascension, Whit Monday) and the local
ones (Good Friday and 26 December in Alsace-Moselle, the abolition of slavery overseas)
come from that well-kept calendar rather than from our own arithmetic. Each
organisation picks one calendar by its code; ``none`` is for a service open every day.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

DEFAULT_CALENDAR = "FR"

# code → (subdivision of holidays.France, or None for mainland France; French label)
CALENDARS: dict[str, tuple[str | None, str]] = {
    "FR": (None, "France (hors Alsace-Moselle)"),
    "FR-AM": ("57", "Alsace-Moselle (Bas-Rhin, Haut-Rhin, Moselle)"),
    "FR-971": ("971", "Guadeloupe"),
    "FR-972": ("972", "Martinique"),
    "FR-973": ("973", "Guyane"),
    "FR-974": ("974", "La Réunion"),
    "FR-976": ("976", "Mayotte"),
}
NO_CALENDAR = "none"
CALENDAR_LABELS: dict[str, str] = {code: label for code, (_, label) in CALENDARS.items()} | {
    NO_CALENDAR: "Aucun (ouvert les jours fériés)"
}


@lru_cache(maxsize=64)
def _year(calendar: str, year: int) -> dict[date, str]:
    if calendar not in CALENDARS:
        return {}
    subdivision, _label = CALENDARS[calendar]
    found = holidays.country_holidays(
        "FR", subdiv=subdivision, years=year, language="fr", categories=("public",)
    )
    return dict(found.items())


def public_holidays(calendar: str, first: date, last: date) -> dict[date, str]:
    """The calendar's public holidays from ``first`` to ``last`` inclusive, with names."""
    days: dict[date, str] = {}
    for year in range(first.year, last.year + 1):
        days.update((d, name) for d, name in _year(calendar, year).items() if first <= d <= last)
    return dict(sorted(days.items()))
