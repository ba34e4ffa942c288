"""Agents' weekly availability rules and absences: checked, stored and read back.

The slot engine and the instant queue read these tables on every request, so a change
here shows in the free slots and in who may take a waiting call at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import Any

from booking_api.bookings import OPEN, list_bookings
from booking_api.catalogue import agent_calendars
from booking_api.db import Database
from booking_api.slots import PARIS, available_at, from_epoch, to_paris_iso
from booking_api.tokens import new_id

DAY_NAMES = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


@dataclass(frozen=True, slots=True)
class Rule:
    weekday: int  # 0 = Monday
    start_min: int
    end_min: int

    def public(self) -> dict[str, Any]:
        return {"weekday": self.weekday, "start": _hhmm(self.start_min), "end": _hhmm(self.end_min)}


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def in_week_order(rules: list[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda r: (r.weekday, r.start_min))


def overlaps(rules: dict[int, Rule]) -> dict[int, str]:
    """Ranges (by their index in the request) that start inside another range of their
    day, each with what to tell the client; overlapping ranges are refused."""
    ordered = sorted(rules.items(), key=lambda r: (r[1].weekday, r[1].start_min))
    found: dict[int, str] = {}
    for (_, before), (index, after) in pairwise(ordered):
        if before.weekday == after.weekday and after.start_min < before.end_min:
            found[index] = f"Cette plage chevauche une autre plage du {DAY_NAMES[after.weekday]}."
    return found


@dataclass(frozen=True, slots=True)
class NewAbsence:
    start: datetime
    end: datetime
    reason: str


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
