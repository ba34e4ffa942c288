"""One subscriber's downlink estimate: its REMB, bounded by what loss says got through.

The subscriber's REMB comes from a delay-based estimator fed by our ``abs-send-time``
stamps; it sees queues build up, not packets dropped by a policer or a radio link.
Loss is the other half, handled as libwebrtc's send-side estimator does: above 10 %
loss the bound becomes what we sent times ``1 - loss / 2``; under 2 % it grows by 8 %
a second (and disappears once far above the REMB); in between it holds.

What is left for video is the lower of the REMB (our audio carries no
``abs-send-time``, so the subscriber's estimator measures video only) and the loss
bound minus the audio we send; ``None`` while neither is known.

A delay-based estimator says "congested" by lowering its REMB. One that has not come
down in ``REMB_FALL_MEMORY_S`` is still climbing from where it started (it starts from
what it measured, and grows some 8 % a second), so while the link is clean it is no
reason to send less than the subscriber is receiving without loss right now
(``remb_congested`` is False then).
"""

from __future__ import annotations

LOSS_DECREASE_ABOVE = 0.10
LOSS_INCREASE_BELOW = 0.02
INCREASE_PER_S = 1.08
BOUND_FORGOTTEN_ABOVE_REMB = 2.0
REMB_FALL = 0.97  # a REMB under this share of the previous one came down
REMB_FALL_MEMORY_S = 3.0


class DownlinkEstimate:
    def __init__(self) -> None:
        self.remb_bps: int | None = None
        self.loss_bound_bps: float | None = None
        self.limited_by_loss = False
        self._last_update: float | None = None
        self._remb_fell_at: float | None = None
        self.remb_congested = False  # the REMB came down lately, or the link loses

    def video_budget(self, audio_bps: float) -> int | None:
        values = [] if self.remb_bps is None else [float(self.remb_bps)]
        if self.loss_bound_bps is not None:
            values.append(max(0.0, self.loss_bound_bps - audio_bps))
        return int(min(values)) if values else None

    def update(
        self,
        now: float,
        remb_bps: int | None,
        loss: float,
        sent_bps: float,
        audio_bps: float,
        settling: bool = False,
    ) -> int | None:
        """Fold in one interval's feedback (``sent_bps``: all we sent meanwhile, audio
        included; ``settling``: we just sent less, so loss reported now is about before
        and does not lower the bound); returns the video budget."""
        elapsed = 1.0 if self._last_update is None else max(0.0, now - self._last_update)
        self._last_update = now
        if remb_bps is not None:
            if self.remb_bps is not None and remb_bps < REMB_FALL * self.remb_bps:
                self._remb_fell_at = now
            self.remb_bps = remb_bps
        fell = self._remb_fell_at is not None and now - self._remb_fell_at < REMB_FALL_MEMORY_S
        self.remb_congested = fell or loss >= LOSS_INCREASE_BELOW
        if loss > LOSS_DECREASE_ABOVE and sent_bps > 0 and not settling:
            bound = sent_bps * (1.0 - loss / 2)
            if self.loss_bound_bps is None or bound < self.loss_bound_bps:
                self.loss_bound_bps = bound
        elif loss < LOSS_INCREASE_BELOW and self.loss_bound_bps is not None:
            self.loss_bound_bps *= INCREASE_PER_S ** min(elapsed, 2.0)
            if (
                self.remb_bps is not None
                and self.loss_bound_bps > BOUND_FORGOTTEN_ABOVE_REMB * self.remb_bps
            ):
                self.loss_bound_bps = None
        self.limited_by_loss = self.loss_bound_bps is not None and (
            self.remb_bps is None or self.loss_bound_bps - audio_bps < self.remb_bps
        )
        return self.video_budget(audio_bps)

    def reset(self) -> None:
        """Start over (video resumes after a pause: what was measured then is stale)."""
        self.remb_bps = None
        self.loss_bound_bps = None
        self.limited_by_loss = False
        self._remb_fell_at = None
        self.remb_congested = False
