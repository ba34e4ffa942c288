"""A bandwidth probe: padding at the next layer's rate, briefly, before moving up to it.

Stepping up a layer to find out whether the link carries it (what the SFU did before)
sends the whole layer into a link that may not take it, and the loss then costs the
layer below too. A probe sends padding (``padding.py``) on top of the video for
``PROBE_DURATION_S`` so that the subscriber receives the next layer's rate, then
waits a settle time (twice the round trip, ``SETTLE_MIN_S``..``SETTLE_MAX_S``) for the
feedback about that time.

What "the estimate follows" can mean with Chrome's REMB: its estimator increases by at
most 8 % a second and never above 1.5 x what arrives + 10 kb/s, so within a probe it
cannot climb to the goal. What it does tell at once: on overuse (a queue grew: the link
did not carry the rate) it comes down, or holds when coming down would raise it, and
sends a fall of 3 % without waiting; with no overuse it increases, a little, in every
REMB. So a probe succeeds when a REMB that came after it started is above the one
before it, or already at the goal without coming down; it fails on a REMB under
``REMB_FALL`` of that one, on loss over ``LOSS_DECREASE_ABOVE``, on media NACKed while
it runs (``PROBE_NACK_SHARE``: a small queue overflows before any estimator reacts),
or when no REMB came up by ``MAX_WAIT_S``. A subscriber that never sent a REMB is
judged on loss alone. Video back from audio only needs two rises while the padding
flows (``RESUME_PROBE_DURATION_S``): after idle time, the estimator's first update
rises on any link, and on overuse it then holds (it never raises its estimate then)
rather than falls. A REMB equal to the last one is no news either way: Chrome repeats
its last value in every RTCP report. Padding leaves evenly over
``PROBE_DURATION_S`` and stops
at the first sign of failure.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

from sfu.bandwidth import LOSS_DECREASE_ABOVE, REMB_FALL
from sfu.padding import PADDING_BYTES

# long enough to get past a policer's bucket (tc tbf's 4 kB burst and 50 ms queue at
# 400 kb/s hid 0.5 s of +13 %): the queue must grow for the estimator to see it; a
# link far short overflows sooner, and media NACKed then ends the probe at once
PROBE_DURATION_S = 1.0
# with video paused nothing else reaches the estimator: its first REMB after the idle
# time rises whatever the link (its first update), so a second one, some 250-600 ms
# later (600 ms at 20 kb/s, 1 s at its floor), is needed while the padding flows
# (an estimate at Chrome's 5 kb/s floor updates once a second: +1 kb/s each time)
RESUME_PROBE_DURATION_S = 2.2
SETTLE_MIN_S = 0.3
SETTLE_MAX_S = 1.0
MAX_WAIT_S = 1.5  # Chrome sends a REMB every 200 ms to 1 s, aiortc every 500 ms
PROBE_NACK_SHARE = 0.05  # media NACKed during a probe: the padding pushes it out
PROBE_MIN_NACKS = 3
PADDING_TICK_S = 0.02  # padding leaves evenly, never as one burst
# bringing video back: the padding starts at this share of its rate and reaches all of
# it after RESUME_RAMP_S, so a link still short fills its queue slowly and the audio's
# arrivals stop the probe at a smaller queue (audio fills most of such a link)
RESUME_RAMP_FROM = 0.3
RESUME_RAMP_S = 0.4
# where the subscriber numbers its audio's arrivals, a resume probe is carried once the
# padding has flowed past a policer's bucket (tc tbf's 4 kB: 0.4 s at 80 kb/s too much)
# and this many arrival feedbacks since then show no queue and no lost audio: a second
# earlier than two rises of Chrome's REMB
RESUME_CLEAR_AFTER_S = 0.9
RESUME_CLEAR_FEEDBACKS = 3
QUEUE_CLEAR_S = 0.03
PADDING_PACKET_BYTES = PADDING_BYTES + 40  # header, extensions, SRTP tag, on the wire


@dataclass(frozen=True)
class ProbeRequest:
    """What a probe is for: ``layer`` of the stream ``key`` (``resume``: video back from
    audio only, every stream on its lowest layer), and the video rate it needs."""

    goal_bps: float
    key: Hashable | None = None
    layer: int | None = None
    resume: bool = False


@dataclass
class Probe:
    request: ProbeRequest
    started: float
    ends: float
    decided_at: float
    padding_bps: float
    remb_before: int | None
    _owed_bytes: float = 0.0
    _last_tick: float = 0.0
    _followed: bool = False
    _rises: int = 0
    _last_remb: tuple[int, float] | None = None  # the last REMB looked at, and when
    _arrival_at: float = -1e9  # the newest arrival feedback looked at
    _clear_feedbacks: int = 0
    _audio_lost: int | None = None  # audio packets reported lost, at that feedback
    packets_sent: int = 0

    @classmethod
    def start(
        cls,
        now: float,
        request: ProbeRequest,
        video_bps: float,
        remb_bps: int | None,
        rtt_s: float | None,
    ) -> Probe:
        settle = min(SETTLE_MAX_S, max(SETTLE_MIN_S, 2 * (rtt_s or 0.0)))
        ends = now + (RESUME_PROBE_DURATION_S if request.resume else PROBE_DURATION_S)
        return cls(
            request=request,
            started=now,
            ends=ends,
            decided_at=ends + settle,
            padding_bps=max(0.0, request.goal_bps - video_bps),
            remb_before=remb_bps,
            _last_tick=now,
        )

    def padding_packets(self, now: float) -> int:
        """Packets of padding due since the last call (none once the probe has ended)."""
        until = min(now, self.ends)
        elapsed = max(0.0, until - self._last_tick)
        self._last_tick = max(self._last_tick, until)
        share = 1.0
        if self.request.resume:
            ramp = (until - self.started) / RESUME_RAMP_S
            share = min(1.0, RESUME_RAMP_FROM + (1.0 - RESUME_RAMP_FROM) * ramp)
        self._owed_bytes += share * self.padding_bps * elapsed / 8
        count = int(self._owed_bytes // PADDING_PACKET_BYTES)
        self._owed_bytes -= count * PADDING_PACKET_BYTES
        return count

    def arrival(self, sampled_at: float, queue_s: float, audio_lost: int) -> None:
        """The newest arrival feedback on the subscriber's audio (``sfu.arrival_delay``):
        the queue it showed, when it came, and the audio packets reported lost so far (a
        feedback that reports one lost is not clear: a link losing half of what it gets
        builds no queue either)."""
        if sampled_at <= self._arrival_at:
            return
        self._arrival_at = sampled_at
        lost = 0 if self._audio_lost is None else audio_lost - self._audio_lost
        self._audio_lost = audio_lost
        if sampled_at < self.started + RESUME_CLEAR_AFTER_S:
            return
        if queue_s < QUEUE_CLEAR_S and lost <= 0:
            self._clear_feedbacks += 1
        else:
            self._clear_feedbacks = 0

    def outcome(
        self,
        now: float,
        remb_bps: int | None,
        remb_at: float,
        loss: float,
        media_nacked: int = 0,
        media_sent: int = 0,
    ) -> bool | None:
        """True: the link carried the goal; False: it did not; None: not known yet.
        ``remb_bps``/``remb_at``: the subscriber's latest REMB and when it came;
        ``media_nacked``/``media_sent``: video packets NACKed and sent since it started."""
        if media_nacked >= PROBE_MIN_NACKS and media_nacked > PROBE_NACK_SHARE * media_sent:
            return False
        before = self.remb_before
        if remb_bps is not None and remb_at > self.started:
            if before is not None and remb_bps < REMB_FALL * before:
                return False
            if remb_bps >= self.request.goal_bps or before is None:
                self._followed = True
            elif self._last_remb is None or remb_at != self._last_remb[1]:
                previous = before if self._last_remb is None else self._last_remb[0]
                if remb_bps > previous:
                    self._rises += 1
                # an equal value is no news: a browser repeats its last REMB in every
                # RTCP report, with or without an update behind it
                needed = 2 if self.request.resume else 1
                self._followed = self._rises >= needed
            self._last_remb = (remb_bps, remb_at)
        if loss > LOSS_DECREASE_ABOVE:
            return False
        if self.request.resume and self._clear_feedbacks >= RESUME_CLEAR_FEEDBACKS:
            return True  # the padding at full rate arrives with the audio, unqueued
        if now < self.decided_at:
            return None
        if self._followed or (before is None and remb_bps is None):
            return True
        wait = max(MAX_WAIT_S, self.ends - self.started + 0.5)
        return False if now >= self.started + wait else None
