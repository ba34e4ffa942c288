"""A step down's keyframe leaves at the rate the link carries (``sfu/pacing.py``):
released no faster than the rate after one packet's burst, in order, handed back to the
native path once caught up, never held past its bound."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from sfu.pacing import BURST_BYTES, MAX_PACING_S, Pacer
from sfu.rtp_view import RtpView


class Timers:
    """A clock and a scheduler that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.due: list[tuple[float, Callable[[], None]]] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, callback: Callable[[], None]) -> None:
        self.due.append((self.now + delay, callback))

    def run_until(self, until: float) -> None:
        while self.due:
            self.due.sort(key=lambda entry: entry[0])
            when, callback = self.due[0]
            if when > until:
                break
            self.due.pop(0)
            self.now = max(self.now, when)
            callback()
        self.now = until


def packet(seq: int, size: int = 1000, marker: bool = False) -> RtpView:
    header = struct.pack("!BBHII", 0x80, (int(marker) << 7) | 96, seq, 3000, 0x1234)
    view = RtpView.parse(header + bytes(size - len(header)))
    assert view is not None
    return view


def paced(rate_bps: float) -> tuple[Pacer, Timers, list[tuple[float, int]], list[float]]:
    timers = Timers()
    sent: list[tuple[float, int]] = []
    idle: list[float] = []
    pacer = Pacer(
        lambda view, _level: sent.append((timers.now, view.sequence_number)),
        lambda: idle.append(timers.now),
        clock=timers.clock,
        schedule=timers.schedule,
    )
    pacer.start(rate_bps)
    return pacer, timers, sent, idle


def test_a_burst_leaves_no_faster_than_the_rate_and_in_order() -> None:
    pacer, timers, sent, idle = paced(80_000)  # 10 000 bytes a second
    for seq in range(10):  # a 10 KB keyframe, at once
        pacer.push(packet(seq, marker=seq == 9), None)
    assert len(sent) == 2  # the first packet's burst, then the second spends it
    timers.run_until(timers.now + 2.0)
    assert [seq for _, seq in sent] == list(range(10))
    start = sent[0][0]
    for count, (when, _) in enumerate(sent, start=1):
        # bytes out by each packet's time never exceed the burst plus the rate
        assert (count - 1) * 1000 <= BURST_BYTES + (when - start) * 10_000 + 1e-6
    # the last leaves when all but the burst and the first packet's debt have had their time
    assert sent[-1][0] - start == pytest.approx((10_000 - BURST_BYTES - 1000) / 10_000)
    assert idle and not pacer.active  # caught up: the native path takes the stream back


def test_a_stream_slower_than_the_rate_catches_up_and_is_handed_back() -> None:
    pacer, timers, sent, idle = paced(80_000)
    for seq in range(4):
        pacer.push(packet(seq), None)
    assert pacer.active and pacer.frame_open
    timers.run_until(timers.now + 0.15)
    assert len(sent) == 3 and pacer.active  # the fourth waits for its bytes' time
    timers.run_until(timers.now + 0.5)
    assert len(sent) == 4 and not pacer.active and not pacer.frame_open
    # handed back once idle for a burst's time past the last packet's own
    assert len(idle) == 1 and sent[-1][0] + 0.1 < idle[0] <= sent[-1][0] + 0.25
    pacer.push(packet(4), None)  # no longer paced: at once
    assert sent[-1] == (timers.now, 4)


def test_dropping_forgets_and_flushing_sends_at_once() -> None:
    pacer, timers, sent, idle = paced(8_000)
    for seq in range(5):
        pacer.push(packet(seq), None)
    pacer.drop()
    assert len(sent) == 2 and not pacer.active and len(idle) == 1
    timers.run_until(timers.now + 10)
    assert len(sent) == 2  # the timer found nothing to send
    pacer.start(8_000)
    for seq in range(5, 9):
        pacer.push(packet(seq), None)
    pacer.flush()
    assert [seq for _, seq in sent] == [0, 1, 5, 6, 7, 8] and not pacer.active


def test_a_pacer_that_cannot_catch_up_sends_what_it_holds_after_its_bound() -> None:
    pacer, timers, sent, _ = paced(8_000)  # 1 000 bytes a second: a wrong estimate
    pushed = 0
    while timers.now < 100.0 + MAX_PACING_S - 0.1:
        pacer.push(packet(pushed), None)  # 20 000 bytes a second
        pushed += 1
        timers.run_until(timers.now + 0.05)
    assert pacer.active and len(sent) < 5
    timers.run_until(100.0 + MAX_PACING_S + 0.01)  # no packet comes: the timer sees to it
    assert not pacer.active
    assert [seq for _, seq in sent] == list(range(pushed))
    assert sent[-1][0] == pytest.approx(100.0 + MAX_PACING_S)


def test_without_a_running_loop_it_sends_at_once() -> None:
    sent: list[int] = []
    pacer = Pacer(lambda view, _level: sent.append(view.sequence_number), lambda: None)
    pacer.start(8_000)
    for seq in range(4):
        pacer.push(packet(seq), None)
    assert sent == [0, 1, 2, 3] and not pacer.active
    assert pacer.paced_packets == 1  # the first went by the pacer, which then had no timer
