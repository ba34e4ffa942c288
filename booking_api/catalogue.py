"""Reading what can be booked: organisations, services, motifs and agents' calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from booking_api.closures import closed_days
from booking_api.db import Connection, Database, Row
from booking_api.slots import (
    PARIS,
    AgentCalendar,
    Interval,
    MotifTiming,
    WeeklyRule,
    from_epoch,
)

CHANNELS = ("video", "phone", "in-person")


@dataclass(frozen=True, slots=True)
class Motif:
    id: str
    service_id: str
    organisation_id: str
    label: str
    duration_min: int
    channels: tuple[str, ...]
    notice_min: int
    horizon_days: int
    buffer_min: int
    needs_review: bool

    @property
    def timing(self) -> MotifTiming:
        return MotifTiming(
            duration=timedelta(minutes=self.duration_min),
            buffer=timedelta(minutes=self.buffer_min),
            notice=timedelta(minutes=self.notice_min),
            horizon=timedelta(days=self.horizon_days),
        )

    @property
    def video(self) -> bool:
        return "video" in self.channels

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "duration_min": self.duration_min,
            "channels": list(self.channels),
            "video": self.video,
            "notice_min": self.notice_min,
            "horizon_days": self.horizon_days,
            "buffer_min": self.buffer_min,
            "needs_review": self.needs_review,
        }


_MOTIF_COLUMNS = (
    "m.id, m.service_id, s.organisation_id, m.label, m.duration_min, m.channels, "
    "m.notice_min, m.horizon_days, m.buffer_min, m.needs_review"
)


def _motif(row: Row) -> Motif:
    return Motif(
        id=row["id"],
        service_id=row["service_id"],
        organisation_id=row["organisation_id"],
        label=row["label"],
        duration_min=int(row["duration_min"]),
        channels=tuple(c for c in str(row["channels"]).split(",") if c),
        notice_min=int(row["notice_min"]),
        horizon_days=int(row["horizon_days"]),
        buffer_min=int(row["buffer_min"]),
        needs_review=bool(row["needs_review"]),
    )


async def get_motif(db: Database | Connection, motif_id: str) -> Motif | None:
    row = await db.fetch_one(
        f"SELECT {_MOTIF_COLUMNS} FROM motifs m JOIN services s ON s.id = m.service_id "
        "WHERE m.id = ? AND m.active = 1",
        motif_id,
    )
    return _motif(row) if row else None


async def list_services(db: Database) -> list[dict[str, Any]]:
    services = await db.fetch_all(
        "SELECT s.id, s.name, o.id AS organisation_id, o.name AS organisation_name "
        "FROM services s JOIN organisations o ON o.id = s.organisation_id ORDER BY o.name, s.name"
    )
    motifs = await db.fetch_all(
        f"SELECT {_MOTIF_COLUMNS} FROM motifs m JOIN services s ON s.id = m.service_id "
        "WHERE m.active = 1 ORDER BY m.label"
    )
    by_service: dict[str, list[dict[str, Any]]] = {}
    for row in motifs:
        motif = _motif(row)
        by_service.setdefault(motif.service_id, []).append(motif.public())
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "organisation": {"id": s["organisation_id"], "name": s["organisation_name"]},
            "motifs": by_service.get(s["id"], []),
        }
        for s in services
    ]


def paris_day_bounds(first_day: date, last_day: date) -> tuple[int, int]:
    """Epoch seconds from the start of ``first_day`` to the end of ``last_day`` in Paris."""
    start = datetime.combine(first_day, time(0), tzinfo=PARIS).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=PARIS).astimezone(UTC)
    return int(start.timestamp()), int(end.timestamp())


async def agent_calendars(
    db: Database | Connection,
    service_id: str,
    first_day: date,
    last_day: date,
    agent_id: str | None = None,
) -> list[AgentCalendar]:
    """Rules, absences, busy intervals and closed days of the service's agents over the days."""
    params: list[Any] = [service_id]
    agent_filter = ""
    if agent_id is not None:
        agent_filter = " AND id = ?"
        params.append(agent_id)
    agents = await db.fetch_all(
        f"SELECT id FROM users WHERE role = 'agent' AND active = 1 AND service_id = ?"
        f"{agent_filter} ORDER BY id",
        *params,
    )
    lo, hi = paris_day_bounds(first_day, last_day)
    service = await db.fetch_one("SELECT organisation_id FROM services WHERE id = ?", service_id)
    closed = (
        frozenset(await closed_days(db, service["organisation_id"], first_day, last_day))
        if service and agents
        else frozenset()
    )
    calendars: list[AgentCalendar] = []
    for agent in agents:
        rules = await db.fetch_all(
            "SELECT weekday, start_min, end_min FROM availability_rules WHERE agent_id = ?",
            agent["id"],
        )
        absences = await db.fetch_all(
            "SELECT start_at, end_at FROM absences WHERE agent_id = ? AND end_at > ? "
            "AND start_at < ?",
            agent["id"],
            lo,
            hi,
        )
        busy = await db.fetch_all(
            "SELECT MIN(block) AS first_block, MAX(block) AS last_block FROM agent_busy_blocks "
            "WHERE agent_id = ? AND block >= ? AND block < ? GROUP BY booking_id",
            agent["id"],
            lo // 300 - 288,
            hi // 300 + 288,
        )
        calendars.append(
            AgentCalendar(
                agent_id=agent["id"],
                rules=[
                    WeeklyRule(
                        int(r["weekday"]),
                        _minutes_to_time(r["start_min"]),
                        _minutes_to_time(r["end_min"]),
                    )
                    for r in rules
                ],
                absences=[
                    Interval(from_epoch(a["start_at"]), from_epoch(a["end_at"])) for a in absences
                ],
                busy=[
                    Interval(
                        from_epoch(int(b["first_block"]) * 300),
                        from_epoch((int(b["last_block"]) + 1) * 300),
                    )
                    for b in busy
                ],
                closed_days=closed,
            )
        )
    return calendars


def _minutes_to_time(minutes: int) -> time:
    minutes = int(minutes)
    if minutes >= 24 * 60:
        return time(23, 59, 59)
    return time(minutes // 60, minutes % 60)
