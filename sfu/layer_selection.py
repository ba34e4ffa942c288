"""Which simulcast layer each of one subscriber's video streams gets, or none (audio only).

A pure policy, evaluated about once a second with what the subscriber's downlink
leaves for video (``bandwidth.DownlinkEstimate``):

- **Start**: a new stream gets the highest layer that fits the budget, or
  ``start_bitrate_bps`` while no estimate has come yet.
- **Down, quickly**: when the layers being sent no longer fit the budget (a REMB
  budget must be clearly short, under ``DOWN_TOLERANCE`` of what we send, and is
  ignored for ``PROBE_GRACE_S`` after a step up while it catches up), each stream
  takes the highest layer that fits, highest priority first (at once when the budget
  is under ``CLEAR_SHORTFALL`` of what we send, else on the second evaluation in a
  row, so a passing blip on a loaded machine changes nothing; at once when loss above
  ``LOSS_DECREASE_ABOVE`` set the budget: loss measured over a whole report is no
  blip); then nothing more until feedback about the new layers has come
  (``feedback_after_step``), at most ``DOWN_SETTLE_S``, as receiver reports still
  describe the time before. When not even the lowest layers fit on two evaluations in
  a row (at once when loss says so), or the budget is under the floor, video stops:
  audio only. Loss above the threshold on two evaluations without a lower estimate
  steps down too. A REMB under the floor but above what the layers bring (their
  publisher's own link is poor, so little arrives) stops nothing.
- **Up, with hysteresis**: one stream moves one layer up when the budget has stayed
  at least ``up_factor`` times what we send for ``up_hold_s`` (a receiver's REMB never
  climbs far above what it receives, so stepping up is a probe, as in ion-sfu). A
  layer given up within ``PROBE_WINDOW_S`` of being reached is not tried again
  for a back-off that doubles each time (from twice ``up_hold_s`` up to
  ``MAX_BACKOFF_S``).
- **Video back**: after audio only, once loss has stayed under the threshold for the
  resume hold, the lowest layers come back (the hold doubles once when video had to
  stop again soon after resuming: a flapping link gets one longer wait, not a
  flapping picture).

Layer bitrates are measured at the publisher's ingress; a layer at 0 is not being
sent (the publisher dropped it) and is skipped.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from sfu.bandwidth import LOSS_DECREASE_ABOVE

PROBE_WINDOW_S = 10.0
MAX_BACKOFF_S = 60.0
FLAP_WINDOW_S = 15.0
STARVED_EVALUATIONS_TO_STOP = 2
DOWN_TOLERANCE = 0.8
PROBE_GRACE_S = 5.0
DOWN_SETTLE_S = 2.0
CLEAR_SHORTFALL = 0.7
UP_MAX_LOSS = 0.05


@dataclass(frozen=True)
class SelectionPolicy:
    up_factor: float = 1.5
    up_hold_s: float = 3.0
    resume_hold_s: float = 5.0
    loss_threshold: float = 0.15
    audio_only_floor_bps: int = 60_000
    start_bitrate_bps: int = 1_000_000


@dataclass(frozen=True)
class StreamLayers:
    """One video stream a subscriber receives: measured bitrate per layer, lowest first."""

    key: Hashable
    bitrates: Sequence[float]
    max_layer: int | None = None

    def usable(self) -> list[int]:
        top = len(self.bitrates) - 1 if self.max_layer is None else self.max_layer
        return [i for i, rate in enumerate(self.bitrates) if rate > 0 and i <= top]


@dataclass
class Decision:
    layers: dict[Hashable, int | None]
    audio_only: bool
    reason: str
    changed: bool


@dataclass
class _Backoff:
    until: float = 0.0
    seconds: float = 0.0


@dataclass
class LayerSelector:
    policy: SelectionPolicy
    layers: dict[Hashable, int | None] = field(default_factory=dict)
    audio_only: bool = False
    reason: str = "start"
    _up_since: float | None = None
    _good_since: float | None = None
    _bad_streak: int = 0
    _starved_streak: int = 0
    _short_streak: int = 0
    _reached_at: dict[tuple[Hashable, int], float] = field(default_factory=dict)
    _backoff: dict[tuple[Hashable, int], _Backoff] = field(default_factory=dict)
    _resumed_at: float | None = None
    _resume_hold_s: float | None = None
    _last_up: float | None = None
    _last_down: float | None = None
    _settled: bool = True

    def update(
        self,
        now: float,
        budget_bps: int | None,
        loss: float,
        streams: Sequence[StreamLayers],
        forced_audio_only: bool = False,
        limited_by_loss: bool = False,
        cap_raised: bool = False,
        remb_congested: bool = True,
    ) -> Decision:
        """One evaluation. ``budget_bps``: what the link leaves for video (None: unknown);
        ``limited_by_loss``: the budget comes from loss rather than the subscriber's REMB;
        ``cap_raised``: the user just allowed higher layers, so one step up is tried at
        once, without the hold (and without a back-off: the user asked);
        ``remb_congested``: the REMB came down lately or the link loses (a REMB that
        only climbs is an estimator catching up, not a reason to step down)."""
        before = (dict(self.layers), self.audio_only)
        for key in [k for k in self.layers if k not in {s.key for s in streams}]:
            del self.layers[key]
        if forced_audio_only:
            self._stop_video("user")
        elif self.audio_only:
            self._maybe_resume(now, loss, streams)
        else:
            self._adjust(now, budget_bps, loss, streams, limited_by_loss, remb_congested)
            if cap_raised and not self.audio_only:
                self._backoff.clear()
                if self._step(streams, +1, now) is not None:
                    self.reason = "user-layer"
                    self._last_up = now
                    self._up_since = None
        changed = (self.layers, self.audio_only) != before
        return Decision(dict(self.layers), self.audio_only, self.reason, changed)

    def settling(self, now: float) -> bool:
        """Just stepped down: feedback about the time before is not acted on again."""
        return (
            not self._settled
            and self._last_down is not None
            and now - self._last_down < DOWN_SETTLE_S
        )

    def feedback_after_step(self) -> None:
        """Feedback about the layers sent since the last step down has come."""
        self._settled = True

    def _stepped_down(self, now: float) -> None:
        self._last_down = now
        self._settled = False

    # --- states -------------------------------------------------------------------
    def _stop_video(self, reason: str) -> None:
        self._starved_streak = 0
        self._bad_streak = 0
        self.audio_only = True
        self.reason = reason
        self.layers = {key: None for key in self.layers}
        self._up_since = None
        self._good_since = None

    def _maybe_resume(self, now: float, loss: float, streams: Sequence[StreamLayers]) -> None:
        if self.reason == "user":
            # the user asked for video again: no hold, the link was not the reason
            self._resume(now, streams, "user-auto")
            return
        if loss > self.policy.loss_threshold:
            self._good_since = None
            return
        if self._good_since is None:
            self._good_since = now
        hold = self._resume_hold_s or self.policy.resume_hold_s
        if now - self._good_since >= hold:
            self._resume(now, streams, "recovered")

    def _resume(self, now: float, streams: Sequence[StreamLayers], reason: str) -> None:
        self.audio_only = False
        self.reason = reason
        self._resumed_at = now
        self._bad_streak = 0
        self._up_since = None
        for stream in streams:
            usable = stream.usable()
            self.layers[stream.key] = usable[0] if usable else None

    def _adjust(
        self,
        now: float,
        budget: int | None,
        loss: float,
        streams: Sequence[StreamLayers],
        limited_by_loss: bool,
        remb_congested: bool = True,
    ) -> None:
        policy = self.policy
        for stream in streams:  # new streams, and streams whose layer went away or is capped
            current = self.layers.get(stream.key)
            usable = stream.usable()
            if current is None or current not in usable:
                start = policy.start_bitrate_bps if budget is None else budget
                self.layers[stream.key] = self._initial(stream, usable, current, start)
        if budget is None:
            return
        self._bad_streak = self._bad_streak + 1 if loss > policy.loss_threshold else 0
        sending = self._total(streams, self.layers)
        # a REMB lags behind a step up (it never runs far ahead of what arrives) and
        # wobbles with keyframes: only a clear shortfall counts, and none while probing
        tolerance = 1.0 if limited_by_loss else DOWN_TOLERANCE
        probing = self._last_up is not None and now - self._last_up < PROBE_GRACE_S
        short = budget < tolerance * sending and (
            limited_by_loss or (remb_congested and not probing)
        )
        if self.settling(now) and budget >= policy.audio_only_floor_bps:
            # receiver reports still describe the time before the last step down
            self._up_since = None
            return
        if not short:
            self._starved_streak = 0
            self._short_streak = 0
        # A REMB never runs far above what arrives: when the publisher itself sends less
        # than the floor (its own link is poor), a low REMB says nothing of this link.
        too_little = budget < policy.audio_only_floor_bps and (limited_by_loss or budget < sending)
        if short or too_little:
            fitted = self._fit(budget, streams)
            lowest = self._total(streams, {s.key: (s.usable() or [None])[0] for s in streams})
            measured_loss = limited_by_loss and loss > LOSS_DECREASE_ABOVE
            if too_little or (fitted is None and lowest > 0):
                self._starved_streak += 1
                if (
                    too_little
                    or measured_loss
                    or self._starved_streak >= STARVED_EVALUATIONS_TO_STOP
                ):
                    self._note_failures(now, streams)
                    self._stop_video("loss" if limited_by_loss else "bandwidth")
                    self._track_flapping(now)
                self._up_since = None
                return
            self._short_streak += 1
            clear = budget < CLEAR_SHORTFALL * sending or measured_loss
            if fitted is not None and fitted != self.layers and (clear or self._short_streak >= 2):
                self._short_streak = 0
                self._note_failures(now, streams, fitted)
                self.layers = fitted
                self._stepped_down(now)
                self.reason = "loss" if limited_by_loss else "bandwidth"
            self._up_since = None
            return
        if self._bad_streak >= 2:
            # lossy without a lower estimate (random loss): step the top stream down
            stepped = self._step(streams, -1, now)
            self._stepped_down(now)
            if stepped is None:
                self._stop_video("loss")
                self._track_flapping(now)
            self._bad_streak = 0
            self._up_since = None
            return
        if budget >= policy.up_factor * max(sending, 1.0) and loss <= UP_MAX_LOSS:
            if self._up_since is None:
                self._up_since = now
            elif now - self._up_since >= policy.up_hold_s:
                self._up_since = None
                if self._step(streams, +1, now) is not None:
                    self.reason = "probe"
                    self._last_up = now
        else:
            self._up_since = None

    # --- helpers ------------------------------------------------------------------
    @staticmethod
    def _initial(
        stream: StreamLayers, usable: list[int], current: int | None, budget: float
    ) -> int | None:
        if not usable:
            return None
        if current is not None:  # its layer stopped or got capped: nearest one below
            below = [i for i in usable if i < current]
            return below[-1] if below else usable[0]
        fitting = [i for i in usable if stream.bitrates[i] <= budget]
        return fitting[-1] if fitting else usable[0]

    @staticmethod
    def _total(streams: Sequence[StreamLayers], layers: dict[Hashable, int | None]) -> float:
        total = 0.0
        for stream in streams:
            layer = layers.get(stream.key)
            if layer is not None and layer < len(stream.bitrates):
                total += stream.bitrates[layer]
        return total

    def _fit(
        self, budget: float, streams: Sequence[StreamLayers]
    ) -> dict[Hashable, int | None] | None:
        """Highest layers that fit, never above the current ones; None if the lowest do not."""
        chosen: dict[Hashable, int | None] = {}
        left = budget
        for stream in streams:
            usable = stream.usable()
            if not usable:
                chosen[stream.key] = None
                continue
            if stream.bitrates[usable[0]] > left:
                return None
            chosen[stream.key] = usable[0]
            left -= stream.bitrates[usable[0]]
        for stream in streams:  # priority order: the caller lists what matters first
            current = self.layers.get(stream.key)
            layer = chosen[stream.key]
            if layer is None:
                continue
            for candidate in stream.usable():
                if current is not None and candidate > current:
                    break
                extra = stream.bitrates[candidate] - stream.bitrates[layer]
                if candidate > layer and extra <= left:
                    left -= extra
                    layer = candidate
            chosen[stream.key] = layer
        return chosen

    def _step(self, streams: Sequence[StreamLayers], direction: int, now: float) -> int | None:
        ordered = list(streams) if direction > 0 else list(reversed(streams))
        if direction < 0:  # the stream on the highest layer gives first
            ordered.sort(key=lambda s: -(self.layers.get(s.key) or 0))
        for stream in ordered:
            current = self.layers.get(stream.key)
            usable = stream.usable()
            if current is None or not usable:
                continue
            options = [i for i in usable if (i > current if direction > 0 else i < current)]
            if not options:
                continue
            target = options[0] if direction > 0 else options[-1]
            if direction > 0 and self._backoff.get((stream.key, target), _Backoff()).until > now:
                continue
            if direction < 0:
                self._note_failures(now, [stream], {stream.key: target})
            self.layers[stream.key] = target
            self._reached_at[(stream.key, target)] = now
            return target
        return None

    def _note_failures(
        self,
        now: float,
        streams: Sequence[StreamLayers],
        new_layers: dict[Hashable, int | None] | None = None,
    ) -> None:
        """A layer left soon after it was reached by a probe gets a growing back-off."""
        for stream in streams:
            current = self.layers.get(stream.key)
            new = (new_layers or {}).get(stream.key)
            if current is None or (new is not None and new >= current):
                continue
            reached = self._reached_at.get((stream.key, current))
            if reached is None or now - reached > PROBE_WINDOW_S:
                continue
            backoff = self._backoff.setdefault((stream.key, current), _Backoff())
            backoff.seconds = min(
                MAX_BACKOFF_S, max(2 * self.policy.up_hold_s, 2 * backoff.seconds)
            )
            backoff.until = now + backoff.seconds

    def _track_flapping(self, now: float) -> None:
        if self._resumed_at is not None and now - self._resumed_at < FLAP_WINDOW_S:
            self._resume_hold_s = 2 * self.policy.resume_hold_s
        else:
            self._resume_hold_s = None
