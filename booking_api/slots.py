"""Free appointment slots, computed without I/O.

Availability rules are wall-clock times in Europe/Paris ("Monday 09:00–12:00"); they
are turned into UTC instants day by day with zoneinfo, so slots on the days the clocks
change are still real instants of the right length. Everything compared is UTC.

An appointment occupies its agent from its start to its end plus the motif's buffer;
the same interval is claimed in the database (:data:`BLOCK_S` blocks), which is what
finally decides between two people racing for one slot.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")
BLOCK_S = 300  # granularity of starts, durations and buffers (5 minutes)


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """An agent is available on ``weekday`` (0 = Monday) from ``start`` to ``end``."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span ``[start, end)`` of aware datetimes."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class AgentCalendar:
    agent_id: str
    rules: Sequence[WeeklyRule]
    absences: Sequence[Interval] = ()
    busy: Sequence[Interval] = ()  # existing appointments, buffer included
    # Paris dates the agent's organisation is closed (public holidays, closure days).
    closed_days: frozenset[date] = frozenset()


@dataclass(frozen=True, slots=True)
class MotifTiming:
    duration: timedelta
    buffer: timedelta = timedelta(0)
    notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    start: datetime
    end: datetime
    agent_id: str = field(compare=True)

    @property
    def occupied(self) -> Interval:
        return Interval(self.start, self.end)


def occupied_interval(start: datetime, end: datetime, buffer: timedelta) -> Interval:
    """What an appointment takes from its agent's time: itself and the buffer after it."""
    return Interval(start, end + buffer)


def local_instant(day: date, wall: time, tz: ZoneInfo = PARIS) -> datetime:
    """The UTC instant of a wall-clock time on a day.

    A wall time skipped in spring is read with the winter offset (02:30 → 03:30 summer
    time); one repeated in autumn is its first occurrence.
    """
    return datetime.combine(day, wall).replace(tzinfo=tz, fold=0).astimezone(UTC)


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def candidate_slots(
    timing: MotifTiming, agent: AgentCalendar, first_day: date, last_day: date
) -> list[Slot]:
    """Every slot the agent's weekly rules allow on the days the organisation is open,
    ignoring notice, absences and bookings."""
    step = timing.duration
    slots: list[Slot] = []
    for day in _days(first_day, last_day):
        if day in agent.closed_days:
            continue
        for rule in agent.rules:
            if rule.weekday != day.weekday() or rule.end <= rule.start:
                continue
            window_start = local_instant(day, rule.start)
            window_end = local_instant(day, rule.end)
            start = window_start
            while start + timing.duration <= window_end:
                slots.append(Slot(start, start + timing.duration, agent.agent_id))
                start += step
    return slots


def is_free(slot: Slot, timing: MotifTiming, agent: AgentCalendar) -> bool:
    """True if neither an absence nor an existing appointment (with buffers) is in the way."""
    claim = occupied_interval(slot.start, slot.end, timing.buffer)
    if any(claim.overlaps(busy) for busy in agent.busy):
        return False
    return not any(slot.occupied.overlaps(absence) for absence in agent.absences)


def available_at(agent: AgentCalendar, instant: datetime) -> bool:
    """True if a weekly rule covers the instant (Paris wall time), the organisation is open
    that day and no absence covers it."""
    if any(a.start <= instant < a.end for a in agent.absences):
        return False
    day = instant.astimezone(PARIS).date()
    if day in agent.closed_days:
        return False
    return any(
        rule.weekday == day.weekday()
        and local_instant(day, rule.start) <= instant < local_instant(day, rule.end)
        for rule in agent.rules
    )


def within_booking_window(slot: Slot, timing: MotifTiming, now: datetime) -> bool:
    """Not before the minimum notice, not beyond the booking horizon."""
    return now + timing.notice <= slot.start <= now + timing.horizon


def free_slots(
    timing: MotifTiming,
    agents: Sequence[AgentCalendar],
    first_day: date,
    last_day: date,
    now: datetime,
) -> list[Slot]:
    """Bookable slots for a motif over the days ``first_day``..``last_day`` (Paris dates),
    sorted by start then agent."""
    result: list[Slot] = []
    for agent in agents:
        for slot in candidate_slots(timing, agent, first_day, last_day):
            if within_booking_window(slot, timing, now) and is_free(slot, timing, agent):
                result.append(slot)
    result.sort()
    return result


def blocks_of(interval: Interval) -> range:
    """The :data:`BLOCK_S` blocks an interval touches, as block numbers since the epoch."""
    first = int(interval.start.timestamp()) // BLOCK_S
    last = -(-int(interval.end.timestamp()) // BLOCK_S)
    return range(first, last)


def to_paris_iso(instant: datetime) -> str:
    return instant.astimezone(PARIS).isoformat()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
