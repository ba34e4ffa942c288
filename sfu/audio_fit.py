"""When even audio does not fit a subscriber's link, its publishers are asked for less.

Audio only is the floor of layer selection, yet Opus at Chrome's default 32 kb/s target
is about 50 kb/s on the wire (fifty packets a second, some sixty bytes of headers each):
with the subscriber's own RTCP, more than a 60 kb/s link carries. The queue before such a
link never drains: audio waits half a second behind it, and one packet in fifteen is
dropped for as long as the call lasts (bench.link, ``down_60``). An SFU cannot re-encode,
so the publisher encodes less: a subscriber in audio only whose audio still waits behind
a queue asks its publishers for ``AUDIO_STEPS_BPS``, one step at a time
(Opus at 16 kb/s is still wideband speech; the page caps its audio sender's
``maxBitrate``), and each publisher follows the lowest ask of its subscribers
(``Producer.audio_asks_changed``). Video back means the link carries far more than
audio: the ask is withdrawn then. Loss alone asks nothing: 5 % random loss is no
shortage of bandwidth, and a link that is short queues before it drops.
"""

from __future__ import annotations

AUDIO_STEPS_BPS: tuple[int, ...] = (16_000, 12_000)
# audio waiting this long behind a queue: the link does not carry it
STANDING_QUEUE_S = 0.1
# the publisher's encoder and the queue take this long to show a step's effect
STEP_HOLD_S = 1.5
# a queue falling at least this fast (seconds of delay a second) drains by itself
DRAINING_S_PER_S = 0.05


class AudioFit:
    """One subscriber's ask for its publishers' audio bitrate (None: no ask)."""

    def __init__(self) -> None:
        self.step = 0
        self._stepped_at = 0.0
        self._queue_at_step: float | None = None

    @property
    def cap_bps(self) -> int | None:
        return None if self.step == 0 else AUDIO_STEPS_BPS[self.step - 1]

    def update(self, now: float, audio_only: bool, queue_s: float | None) -> bool:
        """Fold in the subscriber's state: ``audio_only`` (its video paused) and
        ``queue_s`` (the queue its newest audio arrival feedback shows; None: none
        fresh). True when ``cap_bps`` changed."""
        if not audio_only:
            if self.step == 0:
                return False
            self.step = 0
            self._queue_at_step = None
            return True
        if self.step == len(AUDIO_STEPS_BPS):
            return False
        if queue_s is None or queue_s < STANDING_QUEUE_S:
            return False
        if self.step > 0:
            elapsed = now - self._stepped_at
            if elapsed < STEP_HOLD_S:
                return False
            before = self._queue_at_step
            if before is not None and before - queue_s >= DRAINING_S_PER_S * elapsed:
                return False  # the last step is draining the queue: give it time
        self.step += 1
        self._stepped_at = now
        self._queue_at_step = queue_s
        return True
