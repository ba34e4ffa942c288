"""Which simulcast layer each of one subscriber's video streams gets, or none (audio only).

A pure policy, evaluated about once a second with what the subscriber's downlink
leaves for video (``bandwidth.DownlinkEstimate``):

- **Start**: a new stream gets the highest layer that fits the budget, or
  ``start_bitrate_bps`` while no estimate has come yet.
- **Down, quickly**: when the layers being sent no longer fit the budget (a REMB
  budget must be short, under ``DOWN_TOLERANCE`` of what we send, and have come down
  lately; after a media probe's step up it is ignored for ``PROBE_GRACE_S`` while it
  catches up), each stream
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
- **Up, after a probe**: once the layers have been steady for ``up_hold_s`` with a
  clean link (and ``UP_HOLD_AFTER_DOWN_S`` after a step down), ``probe_wanted`` names
  the next step, one layer of one stream, and the rate it needs; the caller probes it
  with padding (``probe.py``) and reports with ``probe_result``: a success moves that
  stream up, a failure backs that layer off (``FIRST_BACKOFF_S``, x ``BACKOFF_GROWTH``
  each time, up to ``MAX_BACKOFF_S``). A subscriber that cannot be sent padding (no
  RTX) gets the old media probe: one layer up when the budget has stayed ``up_factor``
  times what we send for ``up_hold_s``. A layer given up within ``PROBE_WINDOW_S`` of
  being reached backs off the same way, and the step down goes back to the layer it
  came from (which carried, not lower on a loss bound measured while it did not).
- **Video back**: after audio only, once loss has stayed under the threshold for the
  resume hold, the lowest layers are probed (``RESUME_BACKOFF_S``..
  ``MAX_RESUME_BACKOFF_S`` apart while the link cannot take them) and come back when a
  probe succeeds (the hold doubles once when video had to stop again soon after
  resuming: a flapping link gets one longer wait, not a flapping picture). A paused
  video gives the subscriber's estimator nothing to measure (audio is not counted by
  it), so without probes the estimate could never climb back.

Evidence, not single values: video stops when the lowest layers have not fitted for
``STARVED_FOR_S`` (at once when loss above ``HEAVY_LOSS`` measured it), and loss over
the threshold steps down only once it has lasted ``BAD_FOR_S``; evaluations come as
often as feedback does, so counting evaluations would count a tenth of a second.

Layer bitrates are measured at the publisher's ingress; a layer at 0 is not being
sent (the publisher dropped it) and is skipped.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from sfu.bandwidth import HEAVY_LOSS, LOSS_DECREASE_ABOVE
from sfu.probe import ProbeRequest

PROBE_WINDOW_S = 10.0
# a probe the link did not carry hurt the media a moment (its padding filled the queue):
# the next one for that layer waits 30 s, then longer (at most one such probe in 30 s)
FIRST_BACKOFF_S = 30.0
BACKOFF_GROWTH = 1.5
MAX_BACKOFF_S = 120.0
RESUME_BACKOFF_S = 2.0
MAX_RESUME_BACKOFF_S = 6.0  # video back within seconds of a short outage, few probes in a long one
UP_HOLD_AFTER_DOWN_S = 10.0
FLAP_WINDOW_S = 15.0
STARVED_FOR_S = 0.9
# an estimate under the lowest layers with nothing lost: the lowest layer arrives whole,
# and a loaded receiver's delay-based estimate wobbles; only a lasting collapse counts
STARVED_WITHOUT_LOSS_S = 3.0
# a step up is probed with some room for its keyframes (LiveKit: 1.2 x); at 1.3 x the
# probe for 320 px under a 300 kb/s cap (190 kb/s measured, and audio) filled the link
# that carries the layer itself, failed, and kept the call on 160 px
PROBE_HEADROOM = 1.15
BAD_FOR_S = 1.0
# Chrome's overuse response is 0.85 x what it received on video: a REMB that came down
# under 90 % of what we send says the layers do not fit (LiveKit acts under 95 %)
DOWN_TOLERANCE = 0.9
LOSS_DOWN_TOLERANCE = 0.9  # a loss bound under 90 % of what we send: about 15 % loss
PROBE_GRACE_S = 5.0
DOWN_SETTLE_S = 2.0
CLEAR_SHORTFALL = 0.7
# A step down goes one layer at a time while the layer just under fits the budget with
# this slack: a full link's budget is Chrome's overuse answer, 0.85 x what arrived, and
# 172 kb/s against a 320 px layer of 175-182 sent 640 px straight to 160 for 11 s under
# a 300 kb/s cap that carries 320 (bench.link). If it does not fit, the next
# evaluation steps again.
ONE_STEP_SLACK = 0.85
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
    _bad_since: float | None = None
    _starved_since: float | None = None
    _short_streak: int = 0
    _changed_at: float = 0.0
    _came_from: dict[Hashable, tuple[int, float]] = field(default_factory=dict)
    _resume_backoff: _Backoff = field(default_factory=_Backoff)
    _media_probe: bool = False
    _reached_at: dict[tuple[Hashable, int], float] = field(default_factory=dict)
    _backoff: dict[tuple[Hashable, int], _Backoff] = field(default_factory=dict)
    _resumed_at: float | None = None
    _resume_hold_s: float | None = None
    _last_up: float | None = None
    _last_down: float | None = None
    _settled: bool = True
    _blame_steps: bool = True

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
        can_probe: bool = False,
        loss_counts: bool = True,
        link_collapsed: bool = False,
        step_blamed: bool = True,
    ) -> Decision:
        """One evaluation. ``budget_bps``: what the link leaves for video (None: unknown);
        ``limited_by_loss``: the budget comes from loss rather than the subscriber's REMB;
        ``cap_raised``: the user just allowed higher layers, so one step up is tried at
        once, without the hold (and without a back-off: the user asked);
        ``remb_congested``: the REMB came down lately or the link loses (a REMB that
        only climbs is an estimator catching up, not a reason to step down);
        ``can_probe``: the caller probes with padding (``probe_wanted``), so no media
        probe steps up here; ``loss_counts``: False in the estimate's calm after a step
        or a failed probe, when loss alone steps nothing down; ``link_collapsed``: the
        link plainly cannot carry video now, as heavy loss would say); ``step_blamed``:
        False when the link showed no queue lately though the subscriber numbers its
        audio's arrivals, so a step down now is loss the last step up did not cause (a
        burst of random loss, a stalled receiver) and backs that layer off no longer
        than any step down does."""
        self._blame_steps = step_blamed
        before = (dict(self.layers), self.audio_only)
        for key in [k for k in self.layers if k not in {s.key for s in streams}]:
            del self.layers[key]
        if forced_audio_only:
            self._stop_video("user")
        elif self.audio_only:
            self._maybe_resume(now, loss, streams, can_probe)
        else:
            self._adjust(
                now,
                budget_bps,
                loss,
                streams,
                limited_by_loss,
                remb_congested,
                can_probe,
                loss_counts,
                link_collapsed,
            )
            if cap_raised and not self.audio_only:
                self._backoff.clear()
                if self._step(streams, +1, now) is not None:
                    self.reason = "user-layer"
                    self._last_up = now
                    self._up_since = None
        changed = (self.layers, self.audio_only) != before
        if changed:
            self._changed_at = now
        return Decision(dict(self.layers), self.audio_only, self.reason, changed)

    # --- probing ------------------------------------------------------------------
    def probe_wanted(
        self,
        now: float,
        loss: float,
        streams: Sequence[StreamLayers],
        remb_congested: bool = False,
    ) -> ProbeRequest | None:
        """The next step up worth probing for now, or None."""
        if self.audio_only:
            if self.reason == "user" or not self._resume_due(now):
                return None
            goal = self._total(streams, self._lowest(streams))
            return ProbeRequest(goal_bps=goal, resume=True) if goal > 0 else None
        if (
            loss > UP_MAX_LOSS
            or remb_congested
            or self.settling(now)
            or now - self._changed_at < self.policy.up_hold_s
            or (self._last_down is not None and now - self._last_down < UP_HOLD_AFTER_DOWN_S)
        ):
            return None
        step = self._next_step(streams, now)
        if step is None:
            return None
        key, layer = step
        stepped = [
            s if s.key != key else StreamLayers(s.key, self._sized(s, layer), s.max_layer)
            for s in streams
        ]
        goal = PROBE_HEADROOM * self._total(stepped, {**self.layers, key: layer})
        return ProbeRequest(goal_bps=goal, key=key, layer=layer)

    def _sized(self, stream: StreamLayers, layer: int) -> list[float]:
        """``stream``'s bitrates with ``layer`` at a plausible size: a layer the publisher
        was just asked to send again counts 1 b/s until measured (selectable, size not
        known), and a probe for it must not be one of 1 b/s: twice the layer below."""
        rates = list(stream.bitrates)
        below = max((rates[i] for i in range(layer) if rates[i] > 0), default=0.0)
        if rates[layer] <= below:
            rates[layer] = 2 * below
        return rates

    def probe_result(
        self, now: float, request: ProbeRequest, carried: bool, streams: Sequence[StreamLayers]
    ) -> Decision:
        """What a probe found: the step it was for is taken, or backed off."""
        before = (dict(self.layers), self.audio_only)
        if request.resume:
            if carried and self.audio_only and self.reason != "user":
                self._resume_backoff = _Backoff()
                self._resume(now, streams, "recovered")
            elif not carried:
                self._resume_backoff.seconds = min(
                    MAX_RESUME_BACKOFF_S,
                    self._resume_backoff.seconds * BACKOFF_GROWTH or RESUME_BACKOFF_S,
                )
                self._resume_backoff.until = now + self._resume_backoff.seconds
        elif request.key is not None and request.layer is not None and not self.audio_only:
            current = self.layers.get(request.key)
            stream = next((s for s in streams if s.key == request.key), None)
            if not carried:
                self._grow_backoff(now, request.key, request.layer)
            elif (
                stream is not None
                and current is not None
                and request.layer in stream.usable()
                and request.layer > current
            ):
                self.layers[request.key] = request.layer
                self._came_from[request.key] = (current, now)
                self._reached_at[(request.key, request.layer)] = now
                self._last_up = now
                self._media_probe = False
                self._up_since = None
                self.reason = "probe"
        changed = (self.layers, self.audio_only) != before
        if changed:
            self._changed_at = now
        return Decision(dict(self.layers), self.audio_only, self.reason, changed)

    def _resume_due(self, now: float) -> bool:
        if self._good_since is None or now < self._resume_backoff.until:
            return False
        hold = self._resume_hold_s or self.policy.resume_hold_s
        return now - self._good_since >= hold

    def _next_step(
        self, streams: Sequence[StreamLayers], now: float
    ) -> tuple[Hashable, int] | None:
        for stream in streams:  # priority order
            current = self.layers.get(stream.key)
            if current is None:
                continue
            higher = [i for i in stream.usable() if i > current]
            if not higher:
                continue
            target = higher[0]
            if self._backoff.get((stream.key, target), _Backoff()).until > now:
                continue
            return stream.key, target
        return None

    def _grow_backoff(self, now: float, key: Hashable, layer: int) -> None:
        backoff = self._backoff.setdefault((key, layer), _Backoff())
        backoff.seconds = min(MAX_BACKOFF_S, backoff.seconds * BACKOFF_GROWTH or FIRST_BACKOFF_S)
        backoff.until = now + backoff.seconds

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
        self._starved_since = None
        self._bad_since = None
        self.audio_only = True
        self.reason = reason
        self.layers = {key: None for key in self.layers}
        self._up_since = None
        self._good_since = None

    def _maybe_resume(
        self, now: float, loss: float, streams: Sequence[StreamLayers], can_probe: bool
    ) -> None:
        if self.reason == "user":
            # the user asked for video again: no hold, the link was not the reason
            self._resume(now, streams, "user-auto")
            return
        if can_probe:
            # the probes judge the link (loss included): the hold only spaces them
            if self._good_since is None:
                self._good_since = now
            return
        if loss > self.policy.loss_threshold:
            self._good_since = None
            return
        if self._good_since is None:
            self._good_since = now
        if self._resume_due(now):
            self._resume(now, streams, "recovered")  # no padding: video is the probe

    def _resume(self, now: float, streams: Sequence[StreamLayers], reason: str) -> None:
        self.audio_only = False
        self.reason = reason
        self._resumed_at = now
        self._bad_since = None
        self._up_since = None
        self._came_from.clear()
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
        can_probe: bool = False,
        loss_counts: bool = True,
        link_collapsed: bool = False,
    ) -> None:
        policy = self.policy
        for stream in streams:  # new streams, and streams whose layer went away or is capped
            current = self.layers.get(stream.key)
            usable = stream.usable()
            if current is None or current not in usable:
                start = policy.start_bitrate_bps if budget is None else budget
                self.layers[stream.key] = self._initial(stream, usable, current, start)
        if loss > policy.loss_threshold and loss_counts and not self.settling(now):
            if self._bad_since is None:
                self._bad_since = now
        else:
            # no clock while a step down settles or the estimate's calm lasts: that loss
            # is the new layer's keyframe in a queue the old layer filled
            self._bad_since = None
        if budget is None:
            return
        sending = self._total(streams, self.layers)
        # a REMB lags behind a step up (it never runs far ahead of what arrives) and
        # wobbles with keyframes: only a clear shortfall counts, and none while a media
        # probe's layer is still being measured
        tolerance = LOSS_DOWN_TOLERANCE if limited_by_loss else DOWN_TOLERANCE
        probing = (
            self._media_probe and self._last_up is not None and now - self._last_up < PROBE_GRACE_S
        )
        congested = limited_by_loss or (remb_congested and not probing)
        short = budget < tolerance * sending and congested
        if self.settling(now) and budget >= policy.audio_only_floor_bps:
            # receiver reports still describe the time before the last step down
            self._up_since = None
            return
        if not short:
            self._short_streak = 0
        # A REMB never runs far above what arrives: when the publisher itself sends less
        # than the floor (its own link is poor), a low REMB says nothing of this link.
        too_little = (
            budget < policy.audio_only_floor_bps
            and congested
            and (limited_by_loss or budget < sending)
        )
        if short or too_little:
            fitted = self._fit(budget, streams)
            # most of what we send is lost, or audio waits behind it: no blip
            heavy_loss = loss > HEAVY_LOSS or link_collapsed
            if too_little or fitted is None:  # the lowest layers do not fit either
                if self._starved_since is None:
                    self._starved_since = now
                lossy = limited_by_loss or loss > LOSS_DECREASE_ABOVE
                lasted = now - self._starved_since
                if heavy_loss or lasted >= (STARVED_FOR_S if lossy else STARVED_WITHOUT_LOSS_S):
                    self._note_failures(now, streams)
                    back = self._recent_step_ups(now)
                    if back:
                        # a probe's step the link did not take: the layer below carried
                        self.layers.update(back)
                        self._stepped_down(now)
                        self._starved_since = None
                        self.reason = "loss" if limited_by_loss else "bandwidth"
                        self._up_since = None
                        return
                    self._stop_video("loss" if limited_by_loss else "bandwidth")
                    self._track_flapping(now)
                self._up_since = None
                return
            self._starved_since = None
            fitted = self._back_to_where_it_came_from(now, fitted)
            fitted = self._one_step(budget, streams, fitted)
            self._short_streak += 1
            measured_loss = limited_by_loss and loss > LOSS_DECREASE_ABOVE
            clear = budget < CLEAR_SHORTFALL * sending or measured_loss
            if fitted != self.layers and (clear or self._short_streak >= 2):
                self._short_streak = 0
                self._note_failures(now, streams, fitted)
                self.layers = fitted
                self._stepped_down(now)
                self.reason = "loss" if limited_by_loss else "bandwidth"
            self._up_since = None
            return
        self._starved_since = None
        if self._bad_since is not None and now - self._bad_since >= BAD_FOR_S:
            # lossy without a lower estimate (random loss, unrepaired): one step down
            stepped = self._step(streams, -1, now)
            self._stepped_down(now)
            if stepped is None:
                self._stop_video("loss")
                self._track_flapping(now)
            self._bad_since = None
            self._up_since = None
            return
        if can_probe:
            return  # up only through a probe (probe_wanted)
        if budget >= policy.up_factor * max(sending, 1.0) and loss <= UP_MAX_LOSS:
            if self._up_since is None:
                self._up_since = now
            elif now - self._up_since >= policy.up_hold_s:
                self._up_since = None
                if self._step(streams, +1, now) is not None:
                    self.reason = "probe"
                    self._last_up = now
                    self._media_probe = True
        else:
            self._up_since = None

    def _recent_step_ups(self, now: float) -> dict[Hashable, int | None]:
        """The layer each stream came from, for the streams that stepped up within
        ``PROBE_WINDOW_S`` (forgotten once taken)."""
        back: dict[Hashable, int | None] = {}
        for key, (previous, at) in list(self._came_from.items()):
            current = self.layers.get(key)
            if now - at <= PROBE_WINDOW_S and current is not None and current > previous:
                back[key] = previous
            del self._came_from[key]
        return back

    def _back_to_where_it_came_from(
        self, now: float, fitted: dict[Hashable, int | None]
    ) -> dict[Hashable, int | None]:
        """A stream that stepped up within ``PROBE_WINDOW_S`` goes back to the layer it
        came from, which carried, rather than lower on what was measured meanwhile."""
        chosen = dict(fitted)
        for key, (previous, at) in list(self._came_from.items()):
            current = self.layers.get(key)
            if now - at > PROBE_WINDOW_S or current is None or current <= previous:
                del self._came_from[key]
                continue
            layer = chosen.get(key)
            if layer is not None and layer < previous:
                chosen[key] = previous
            del self._came_from[key]
        return chosen

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
    def _lowest(streams: Sequence[StreamLayers]) -> dict[Hashable, int | None]:
        return {s.key: next(iter(s.usable()), None) for s in streams}

    @staticmethod
    def _total(streams: Sequence[StreamLayers], layers: Mapping[Hashable, int | None]) -> float:
        total = 0.0
        for stream in streams:
            layer = layers.get(stream.key)
            if layer is not None and layer < len(stream.bitrates):
                total += stream.bitrates[layer]
        return total

    def _one_step(
        self,
        budget: float,
        streams: Sequence[StreamLayers],
        fitted: dict[Hashable, int | None],
    ) -> dict[Hashable, int | None]:
        """``fitted``, but no stream more than one usable layer under its current one
        while those layers fit the budget within ``ONE_STEP_SLACK``."""
        eased = dict(fitted)
        for stream in streams:
            current = self.layers.get(stream.key)
            layer = eased.get(stream.key)
            if current is None or layer is None:
                continue
            below = [candidate for candidate in stream.usable() if candidate < current]
            if not below or layer >= below[-1]:
                continue
            trial = {**eased, stream.key: below[-1]}
            if self._total(streams, trial) * ONE_STEP_SLACK <= budget:
                eased = trial
        return eased

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
            else:
                self._came_from[stream.key] = (current, now)
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
        """A layer left soon after it was reached by a probe gets a growing back-off,
        unless the loss that left it was not the step's (``step_blamed``)."""
        if not self._blame_steps:
            return
        for stream in streams:
            current = self.layers.get(stream.key)
            new = (new_layers or {}).get(stream.key)
            if current is None or (new is not None and new >= current):
                continue
            reached = self._reached_at.get((stream.key, current))
            if reached is None or now - reached > PROBE_WINDOW_S:
                continue
            self._grow_backoff(now, stream.key, current)

    def _track_flapping(self, now: float) -> None:
        if self._resumed_at is not None and now - self._resumed_at < FLAP_WINDOW_S:
            self._resume_hold_s = 2 * self.policy.resume_hold_s
        else:
            self._resume_hold_s = None
