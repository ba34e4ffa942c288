"""Spreading a step down's keyframe over time, once the queue ahead has drained.

A step down on a full link switches on the lower layer's keyframe, several times a
delta frame (1 to 7 KB at 320 px), which comes as a burst at line rate. Under a 300
kb/s cap the link's queue holds about 6 KB, still full of the layer just stopped, and
drains only at what the new layer and the audio leave free: the keyframe's tail was
lost there, its resends were lost again behind it, and the picture froze up to 0.9 s
until another keyframe came (bench.link ``down_300``, one run in five). So the
keyframe waits for the time that queue takes to drain (the queue delay measured), then
leaves, with the frames behind it, at a rate a little above the new layer's own (the
caller chooses it), until the pacer has caught up with the stream; then the native path
takes over again.

Chrome paces everything it sends this way (its pacer spreads each frame at 2.5 times
the target rate); an SFU that forwards at line rate only needs it where it sends more
than the link carries, which is one keyframe at a time.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

import structlog

from sfu.rtp_view import RtpView

log = structlog.get_logger(__name__)

# bytes that may leave at once when pacing starts or the pacer has been idle: one
# full packet, so that a burst never starts with a wait
BURST_BYTES = 1200
# a pacer that has not caught up in this long sends what it holds at once: the
# stream's own rate is above the pacing rate (a wrong estimate), and waiting longer
# only delays the picture
MAX_PACING_S = 1.5
MAX_PACED_PACKETS = 256  # at 320 px, about 2 s of video: past it, the same
MIN_TICK_S = 0.002

Emit = Callable[[RtpView, bytes | None], None]
Schedule = Callable[[float, Callable[[], None]], object]


def _loop_schedule(delay: float, callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_later(delay, callback)


class Pacer:
    """Packets of one video stream, released at ``rate_bps`` while ``active``.

    ``emit`` sends one packet; ``on_idle`` is told when the pacer has nothing left, so
    that its owner hands the stream back to the native path. Without a running event
    loop (a unit test driving a consumer by hand) a pacer sends at once.
    """

    def __init__(
        self,
        emit: Emit,
        on_idle: Callable[[], None],
        clock: Callable[[], float] = time.monotonic,
        schedule: Schedule = _loop_schedule,
    ) -> None:
        self._emit = emit
        self._on_idle = on_idle
        self.clock = clock
        self.schedule = schedule
        self._queue: deque[tuple[RtpView, bytes | None]] = deque()
        self._rate_bytes_s = 0.0
        self._credit = 0.0
        self._credit_at = 0.0
        self._started_at = 0.0
        self._timer_at: float | None = None  # when the armed timer fires (None: none)
        self._timer_generation = 0  # a timer of an older generation does nothing
        self.active = False
        self.frame_open = False  # the last packet queued did not end its frame
        self.paced_packets = 0  # inspection: packets that went by a pacer
        self._run_packets = 0
        self._run_bytes = 0

    def start(self, rate_bps: float, hold_s: float = 0.0) -> None:
        """Pace what is pushed from now on, at ``rate_bps``, the first packet after
        ``hold_s`` (the time the queue on the way takes to drain); a pacer already
        running sends what it holds first."""
        if self.active:
            self.flush()
        now = self.clock()
        self._rate_bytes_s = max(1.0, rate_bps / 8)
        self._credit = BURST_BYTES
        self._credit_at = now + max(0.0, hold_s)
        self._started_at = now
        self._run_packets = self._run_bytes = 0
        self.active = True

    def push(self, packet: RtpView, audio_level: bytes | None) -> None:
        """Send ``packet`` when its time comes (at once, if the pacer is not running)."""
        if not self.active:
            self._emit(packet, audio_level)
            return
        self._queue.append((packet, audio_level))
        self.frame_open = not packet.marker
        if len(self._queue) > MAX_PACED_PACKETS:
            self.flush()
            return
        self._drain()

    def flush(self) -> None:
        """Send everything held now and stop pacing."""
        queue, self._queue = self._queue, deque()
        for packet, level in queue:
            self._emit(packet, level)
        self._stop("flushed", len(queue))

    def drop(self) -> None:
        """Forget everything held (the stream is paused: nothing of it will be shown)."""
        dropped = len(self._queue)
        self._queue.clear()
        self._stop("dropped", dropped)

    def _stop(self, how: str = "caught_up", left: int = 0) -> None:
        was_active = self.active
        if was_active:
            log.info(
                "sfu_paced",
                how=how,
                rate_bps=round(self._rate_bytes_s * 8),
                seconds=round(self.clock() - self._started_at, 3),
                packets=self._run_packets,
                bytes=self._run_bytes,
                left=left,
            )
        self.active = False
        self._timer_at = None
        self._timer_generation += 1
        self.frame_open = False
        if was_active:
            self._on_idle()

    def _drain(self) -> None:
        if not self.active:
            return
        now = self.clock()
        if now - self._started_at >= MAX_PACING_S:
            self.flush()
            return
        if now < self._credit_at:  # still holding
            if self._timer_at is None:
                self._arm(now, self._credit_at)
            return
        self._credit = min(
            self._credit + (now - self._credit_at) * self._rate_bytes_s,
            max(BURST_BYTES, self._credit),
        )
        self._credit_at = now
        queue = self._queue
        while queue and self._credit > -0.5:  # half a byte: the clock's rounding
            packet, level = queue.popleft()
            self._credit -= len(packet.data)
            self.paced_packets += 1
            self._run_packets += 1
            self._run_bytes += len(packet.data)
            self._emit(packet, level)
        if not queue and self._credit >= BURST_BYTES - 1:
            # idle for a whole burst's time: the stream is slower than the rate, and
            # flows at its own pace again
            self._stop()
            return
        # the next packet's bytes, or (nothing waiting) the end of the idle time that
        # says the pacer has caught up; and never past the bound
        missing = -self._credit if queue else BURST_BYTES - self._credit
        delay = min(missing / self._rate_bytes_s, self._started_at + MAX_PACING_S - now)
        due = now + max(MIN_TICK_S, delay)
        if self._timer_at is None or due < self._timer_at - MIN_TICK_S:
            self._arm(now, due)

    def _arm(self, now: float, due: float) -> None:
        self._timer_generation += 1
        generation = self._timer_generation
        try:
            self.schedule(due - now, lambda: self._tick(generation))
        except RuntimeError:  # no running loop: nothing to pace with
            self.flush()
            return
        self._timer_at = due

    def _tick(self, generation: int) -> None:
        if generation != self._timer_generation:
            return  # replaced by a sooner one
        self._timer_at = None
        self._drain()
