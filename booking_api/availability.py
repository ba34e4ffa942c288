"""Agents' weekly availability rules and absences: checked, stored and read back.

The slot engine and the instant queue read these tables on every request, so a change
here shows in the free slots and in who may take a waiting call at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from booking_api.bookings import OPEN, list_bookings
from booking_api.catalogue import agent_calendars
from booking_api.date_window import parse_instant
from booking_api.db import Database
from booking_api.slots import PARIS, available_at, from_epoch, to_paris_iso
from booking_api.tokens import new_id
from booking_api.validation import optional_text

MAX_RULES = 42
MAX_ABSENCE_DAYS = 366
DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_HHMM = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class Rule:
    weekday: int  # 0 = Monday
    start_min: int
    end_min: int

    def public(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "start": _hhmm(self.start_min), "end": _hhmm(self.end_min)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(value: Any, field: str, errors: dict[str, str]) -> int | None:
    match = _HHMM.match(value) if isinstance(value, str) else None
    minutes = int(match[1]) * 60 + int(match[2]) if match else None
    if minutes is None or minutes > 24 * 60:
        errors[field] = "Heure attendue au format HH:MM (00:00 à 24:00)."
        return None
    if minutes % 5:
        errors[field] = "Heure attendue par pas de 5 minutes."
        return None
    return minutes


def parse_rules(value: Any, errors: dict[str, str]) -> list[Rule]:
    """The whole weekly timetable; overlapping ranges on one day are refused."""
    if not isinstance(value, list):
        errors["rules"] = "Liste de plages horaires attendue."
        return []
    if len(value) > MAX_RULES:
        errors["rules"] = f"{MAX_RULES} plages au plus."
        return []
    rules: list[tuple[int, Rule]] = []
    for index, item in enumerate(value):
        field = f"rules.{index}"
        if not isinstance(item, dict):
            errors[field] = "Plage attendue : {weekday, start, end}."
            continue
        weekday = item.get("weekday")
        if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
            errors[f"{field}.weekday"] = "Jour attendu de 0 (lundi) à 6 (dimanche)."
        start = _minutes(item.get("start"), f"{field}.start", errors)
        end = _minutes(item.get("end"), f"{field}.end", errors)
        if start is not None and end is not None and end <= start:
            errors[f"{field}.end"] = "La fin doit suivre le début."
        elif f"{field}.weekday" not in errors and start is not None and end is not None:
            assert isinstance(weekday, int)
            rules.append((index, Rule(weekday, start, end)))
    ordered = sorted(rules, key=lambda r: (r[1].weekday, r[1].start_min))
    for (_, before), (index, after) in pairwise(ordered):
        if before.weekday == after.weekday and after.start_min < before.end_min:
            errors[f"rules.{index}.start"] = (
                f"Cette plage chevauche une autre plage du {DAY_NAMES[after.weekday]}."
            )
    return [rule for _, rule in ordered]


@dataclass(frozen=True, slots=True)
class NewAbsence:
    start: datetime
    end: datetime
    reason: str


def parse_absence(body: dict[str, Any], errors: dict[str, str], now: datetime) -> NewAbsence | None:
    start = parse_instant(body.get("start"), "start", errors)
    end = parse_instant(body.get("end"), "end", errors)
    reason = optional_text(body.get("reason"), "reason", errors) or ""
    if start is None or end is None:
        return None
    if end <= start:
        errors["end"] = "La fin de l’absence doit suivre son début."
    elif end <= now:
        errors["end"] = "Cette absence est déjà terminée."
    elif end - start > timedelta(days=MAX_ABSENCE_DAYS):
        errors["end"] = f"Une absence dure {MAX_ABSENCE_DAYS} jours au plus."
    if errors:
        return None
    return NewAbsence(start.astimezone(UTC), end.astimezone(UTC), reason)


async def read_rules(db: Database, agent_id: str) -> list[Rule]:
    rows = await db.fetch_all(
        "SELECT weekday, start_min, end_min FROM availability_rules WHERE agent_id = ? "
        "ORDER BY weekday, start_min",
        agent_id,
    )
    return [Rule(int(r["weekday"]), int(r["start_min"]), int(r["end_min"])) for r in rows]


async def replace_rules(db: Database, agent_id: str, rules: list[Rule]) -> None:
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM availability_rules WHERE agent_id = ?", agent_id)
        for rule in rules:
            await tx.execute(
                "INSERT INTO availability_rules (id, agent_id, weekday, start_min, end_min) "
                "VALUES (?, ?, ?, ?, ?)",
                new_id(),
                agent_id,
                rule.weekday,
                rule.start_min,
                rule.end_min,
            )


def _absence(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "start": to_paris_iso(from_epoch(row["start_at"])),
        "end": to_paris_iso(from_epoch(row["end_at"])),
        "reason": row["reason"],
    }


async def read_absences(db: Database, agent_id: str, now: float) -> list[dict[str, Any]]:
    """Current and coming absences (past ones no longer matter to anybody)."""
    rows = await db.fetch_all(
        "SELECT id, start_at, end_at, reason FROM absences WHERE agent_id = ? AND end_at > ? "
        "ORDER BY start_at",
        agent_id,
        int(now),
    )
    return [_absence(r) for r in rows]


async def add_absence(db: Database, agent_id: str, absence: NewAbsence) -> dict[str, Any]:
    row = {
        "id": new_id(),
        "start_at": int(absence.start.timestamp()),
        "end_at": int(absence.end.timestamp()),
        "reason": absence.reason,
    }
    await db.execute(
        "INSERT INTO absences (id, agent_id, start_at, end_at, reason) VALUES (?, ?, ?, ?, ?)",
        row["id"],
        agent_id,
        row["start_at"],
        row["end_at"],
        row["reason"],
    )
    return _absence(row)


async def delete_absence(db: Database, agent_id: str, absence_id: str) -> bool:
    deleted = await db.execute(
        "DELETE FROM absences WHERE id = ? AND agent_id = ?", absence_id, agent_id
    )
    return deleted == 1


async def appointments_during(
    db: Database, agent_id: str, absence: NewAbsence
) -> list[dict[str, Any]]:
    """Active appointments the absence overlaps: they stay booked, so the agent or the
    administrator must move them; the answer names them."""
    bookings = await list_bookings(
        db,
        "b.agent_id = ? AND b.status IN (?, ?) AND b.start_at < ? AND b.end_at > ?",
        agent_id,
        *OPEN,
        int(absence.end.timestamp()),
        int(absence.start.timestamp()),
    )
    return [{"id": b.id, "start": to_paris_iso(b.start), "motif": b.motif_label} for b in bookings]


async def available_agents(db: Database, service_id: str, now: datetime) -> list[str]:
    """Active agents of the service whose rules cover ``now`` and who are not absent."""
    today = now.astimezone(PARIS).date()
    calendars = await agent_calendars(db, service_id, today, today)
    return [c.agent_id for c in calendars if available_at(c, now)]


async def is_available(db: Database, service_id: str, agent_id: str, now: datetime) -> bool:
    today = now.astimezone(PARIS).date()
    calendars = await agent_calendars(db, service_id, today, today, agent_id)
    return any(available_at(c, now) for c in calendars)
