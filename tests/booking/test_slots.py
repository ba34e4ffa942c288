"""The slot engine: DST days, absences, buffers, notice, horizon; never double-books."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from booking_api.slots import (
    PARIS,
    AgentCalendar,
    Interval,
    MotifTiming,
    WeeklyRule,
    free_slots,
    occupied_interval,
)

THIRTY = MotifTiming(duration=timedelta(minutes=30), horizon=timedelta(days=400))
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)  # before every day these tests look at


def _agent(
    *rules: WeeklyRule, absences: Sequence[Interval] = (), busy: Sequence[Interval] = ()
) -> AgentCalendar:
    return AgentCalendar("a1", rules, absences, busy)


def _every_day(start: time, end: time) -> list[WeeklyRule]:
    return [WeeklyRule(d, start, end) for d in range(7)]


def test_slots_keep_paris_wall_time_across_the_spring_dst_weekend() -> None:
    agent = _agent(*_every_day(time(9), time(10)))
    # Clocks go forward on Sunday 29 March 2026.
    slots = free_slots(THIRTY, [agent], date(2026, 3, 28), date(2026, 3, 30), LONG_AGO)
    starts = [s.start.astimezone(PARIS).strftime("%d %H:%M %z") for s in slots]
    assert starts == [
        "28 09:00 +0100", "28 09:30 +0100",
        "29 09:00 +0200", "29 09:30 +0200",
        "30 09:00 +0200", "30 09:30 +0200",
    ]  # fmt: skip
    assert slots[0].start.astimezone(UTC).hour == 8 and slots[2].start.astimezone(UTC).hour == 7


def test_night_window_on_autumn_dst_day_lasts_one_real_hour_more() -> None:
    agent = _agent(*_every_day(time(1), time(4)))
    # Clocks go back on Sunday 25 October 2026: 01:00–04:00 is four real hours.
    slots = free_slots(THIRTY, [agent], date(2026, 10, 25), date(2026, 10, 25), LONG_AGO)
    assert len(slots) == 8
    for previous, following in pairwise(slots):
        assert following.start - previous.start == timedelta(minutes=30)


def test_absence_removes_the_slots_it_touches() -> None:
    agent = _agent(
        *_every_day(time(9), time(12)),
        absences=[
            Interval(
                datetime(2026, 6, 2, 9, 45, tzinfo=PARIS), datetime(2026, 6, 2, 11, tzinfo=PARIS)
            )
        ],
    )
    slots = free_slots(THIRTY, [agent], date(2026, 6, 2), date(2026, 6, 2), LONG_AGO)
    assert [s.start.astimezone(PARIS).strftime("%H:%M") for s in slots] == [
        "09:00", "11:00", "11:30",
    ]  # fmt: skip


def test_buffer_after_a_booking_keeps_the_next_slot_free() -> None:
    timing = MotifTiming(duration=timedelta(minutes=30), buffer=timedelta(minutes=15),
                         horizon=timedelta(days=400))  # fmt: skip
    booked = occupied_interval(
        datetime(2026, 6, 2, 9, tzinfo=PARIS), datetime(2026, 6, 2, 9, 30, tzinfo=PARIS),
        timing.buffer,
    )  # fmt: skip
    agent = _agent(*_every_day(time(9), time(11)), busy=[booked])
    slots = free_slots(timing, [agent], date(2026, 6, 2), date(2026, 6, 2), LONG_AGO)
    # 09:30 would start inside the 15-minute buffer after the 09:00 appointment.
    assert [s.start.astimezone(PARIS).strftime("%H:%M") for s in slots] == ["10:00", "10:30"]


def test_notice_and_horizon_bound_the_offered_slots() -> None:
    timing = MotifTiming(duration=timedelta(minutes=60), notice=timedelta(hours=2),
                         horizon=timedelta(days=2))  # fmt: skip
    now = datetime(2026, 6, 2, 8, 30, tzinfo=PARIS)
    agent = _agent(*_every_day(time(9), time(12)))
    slots = free_slots(timing, [agent], date(2026, 6, 1), date(2026, 6, 10), now)
    starts = [s.start.astimezone(PARIS).strftime("%d %H:%M") for s in slots]
    assert starts[0] == "02 11:00"  # 09:00 and 10:00 are inside the 2-hour notice
    assert starts[-1] == "03 11:00"  # the horizon ends on the 4th at 08:30
    assert len(starts) == 1 + 3


@settings(max_examples=60, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=200), min_size=1, max_size=25),
    duration=st.sampled_from([15, 20, 30, 45]),
    buffer=st.sampled_from([0, 5, 10]),
)
def test_booking_offered_slots_one_by_one_never_overlaps_an_agent(
    picks: list[int], duration: int, buffer: int
) -> None:
    timing = MotifTiming(duration=timedelta(minutes=duration), buffer=timedelta(minutes=buffer),
                         horizon=timedelta(days=400))  # fmt: skip
    busy: list[Interval] = []
    rules = _every_day(time(8, 30), time(17, 45))
    for pick in picks:
        agent = _agent(*rules, busy=list(busy))
        slots = free_slots(timing, [agent], date(2026, 3, 27), date(2026, 3, 30), LONG_AGO)
        if not slots:
            break
        chosen = slots[pick % len(slots)]
        busy.append(occupied_interval(chosen.start, chosen.end, timing.buffer))
    ordered = sorted(busy, key=lambda i: i.start)
    for earlier, later in pairwise(ordered):
        assert earlier.end <= later.start
