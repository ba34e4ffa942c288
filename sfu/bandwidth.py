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
(``remb_congested`` is False then). Nor is one under ``STALE_BELOW`` of the video we
send while nothing is lost: the overuse response is 0.85 x what arrived, so such a
value answers an earlier, lower rate (after a pause it climbs 8 % a second from a few
kb/s, for tens of seconds).

Chrome's first REMB values are not a verdict either: its estimator's first valid value
comes ``RAMP_S`` after the first packets of a stream (and after a pause its stream has
timed out), and until then it reports what it measured arriving, a ramp (50-58 kb/s
for a call that starts on a good link). For ``RAMP_S`` after video starts or resumes,
no REMB is a budget: only loss can lower one.

Loss is what the repair did not hide: receiver reports' fraction lost and packets
NACKed again after their retransmission (``quality.py``), never first NACKs (5 %
random loss is repaired by RTX and is no reason to send less). It counts once it has
stayed over 10 % for ``LOSS_PERSIST_S`` (at once over ``HEAVY_LOSS``): one report of a
few dozen packets under 5 % random loss often reads over 10 %. The bound stays
libwebrtc's ``sent x (1 - loss / 2)`` even for heavy loss: behind a small policer queue
a report covering a keyframe burst loses most of it, and "what got through" would then
say a link of 300 kb/s carries 140.
"""

from __future__ import annotations

LOSS_DECREASE_ABOVE = 0.10
LOSS_INCREASE_BELOW = 0.02
INCREASE_PER_S = 1.08
BOUND_FORGOTTEN_ABOVE_REMB = 2.0
REMB_FALL = 0.97  # a REMB under this share of the previous one came down
REMB_FALL_MEMORY_S = 3.0
RAMP_S = 5.0  # libwebrtc's kInitializationTime: its estimate's first valid value
HEAVY_LOSS = 0.2  # 5 % random loss over 40+ packets: under 1 chance in 1 000
STALE_BELOW = 0.5
CALM_AFTER_STEP_S = 2.0
# a probe that the link did not carry filled its queue: the REMB falls to 0.85 x what
# arrived (padding included), then climbs back some 8 % a second. That fall is the
# probe's, not the carried layer's (a 300 kb/s link stepped 320 px down to 160 after one)
CALM_AFTER_PROBE_S = 3.0
COLLAPSED_REMB_BPS = 60_000  # under the lowest layer anyone sends
OVERFLOW_COLLAPSE = 0.9  # NACKed at this share, the link lets next to no video through
LOSS_PERSIST_S = 1.0  # 5 % random loss reads over 10 % in one report out of a few
# a queue this long behind what we send: the link is full (jitter on a clean path stays
# well under; a loaded receiver's or our own loop's delay too, and it loses nothing)
QUEUE_FULL_S = 0.06
QUEUE_SEVERE_S = 0.25  # audio waits this long: it is being concealed already
# A queue that stands this long over this many arrival feedbacks in a row (a third of
# a second) while the REMB is short of the video we send: the link is full, though a
# small shaper queue never reaches QUEUE_FULL_S (40-50 ms for a second under a 400 kb/s
# cap, and the step came 1 s late; 0.1-0.3 ms on an unshaped path)
QUEUE_STANDING_S = 0.02
QUEUE_STANDING_FEEDBACKS = 3
QUEUE_BACKOFF = 0.85  # what a full link gets: libwebrtc's overuse response
QUEUE_COLLAPSE_MEMORY_S = 1.0
# A REMB fall alone (no queue seen, nothing lost) steps down only once it has kept the
# REMB under REMB_SHORT of the video we send for REMB_SHORT_FOR_S, or at once under
# REMB_CLEAR_SHORT: Chrome's estimate dips to 0.85 x what arrived on a passing overuse
# (a keyframe, resends draining) and climbs back 8 % a second; a 300 kb/s link carrying
# 320 px stepped down to 160 on such a dip. A full link shows a queue first.
REMB_SHORT = 0.9
REMB_CLEAR_SHORT = 0.7
REMB_SHORT_FOR_S = 2.5


class DownlinkEstimate:
    def __init__(self) -> None:
        self.remb_bps: int | None = None
        self.loss_bound_bps: float | None = None
        self.limited_by_loss = False
        self._last_update: float | None = None
        self._remb_fell_at: float | None = None
        self.remb_congested = False  # the REMB came down lately, or the link loses
        self._ramp_until: float | None = None
        self._lossy_since: float | None = None
        self._calm_until = 0.0
        self._collapsed_at: float | None = None
        self._crossed_at: float | None = None
        self._queued_before = False
        self._standing = 0  # arrival feedbacks in a row showing QUEUE_STANDING_S
        self._queued_at: float | None = None
        self._remb_credible = True
        self._remb_short_since: float | None = None
        self.congested = False  # reason to send less now (``remb_congested``, lasting)
        self._queue_collapsed_at: float | None = None

    def start_ramp(self, now: float) -> None:
        """Video (re)starts: the subscriber's REMB is a ramp for ``RAMP_S``."""
        self._ramp_until = now + RAMP_S
        self._remb_fell_at = None

    def queue_collapsed(self, now: float) -> bool:
        """A queue of ``QUEUE_SEVERE_S`` lately: no video fits, stop it at once."""
        at = self._queue_collapsed_at
        return at is not None and now - at < QUEUE_COLLAPSE_MEMORY_S

    def calm(self, now: float) -> bool:
        """Just after a step or a failed probe: loss alone is no verdict."""
        return now < self._calm_until

    def ramping(self, now: float) -> bool:
        return self._ramp_until is not None and now < self._ramp_until

    def video_budget(self, audio_bps: float) -> int | None:
        remb = self.remb_bps if self._remb_credible else None
        values = [] if remb is None else [float(remb)]
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
        overflow: float = 0.0,
        overflow_sent_bps: float = 0.0,
        starved: bool = False,
        queue_s: float | None = None,
        queue_watched: bool = False,
        lost_any: bool = False,
    ) -> int | None:
        """Fold in one interval's feedback (``sent_bps``: all we sent meanwhile, audio
        included; ``settling``: we just sent less, so loss reported now is about before
        and does not lower the bound; ``overflow``: the share of video NACKed over the
        last half second when most of it is, a link far short of the
        ``overflow_sent_bps`` we sent then; ``starved``: a receiver saw next to none
        of the video we sent, which no calm excuses; ``queue_s``: the queue delay a new
        round trip showed, which counts on a second such round trip in a row or with
        anything lost or NACKed (``lost_any``): a loaded machine's late loop delays a
        round trip and loses nothing; ``queue_watched``: the subscriber's arrival
        feedback samples that queue every 50-250 ms, so a REMB shortfall with no queue
        is no verdict); returns the video budget."""
        elapsed = 1.0 if self._last_update is None else max(0.0, now - self._last_update)
        self._last_update = now
        ramping = self.ramping(now)
        # the calm after a step or a resume (its keyframe burst) holds unless the link
        # plainly collapsed: heavy loss and a REMB that came down under what the lowest
        # layer needs (after a pause it sits that low too, but only climbs)
        if (
            remb_bps is not None
            and self.remb_bps is not None
            and remb_bps < REMB_FALL * self.remb_bps
            and remb_bps < COLLAPSED_REMB_BPS
        ):
            self._collapsed_at = now
        collapsed = starved or (
            self._collapsed_at is not None
            and now - self._collapsed_at < REMB_FALL_MEMORY_S
            and loss > HEAVY_LOSS
        )
        calm = now < self._calm_until and not collapsed
        # a REMB that came down from where video fits to where none does is overuse,
        # even in the first seconds: a ramp climbs, and after a pause it starts low
        crossed = (
            remb_bps is not None
            and self.remb_bps is not None
            and remb_bps < REMB_FALL * self.remb_bps
            and remb_bps < COLLAPSED_REMB_BPS <= self.remb_bps
        )
        if crossed:
            self._crossed_at = now
        dropped_out = self._crossed_at is not None and now - self._crossed_at < REMB_FALL_MEMORY_S
        if remb_bps is not None:
            if crossed or (
                self.remb_bps is not None
                and remb_bps < REMB_FALL * self.remb_bps
                and not ramping
                and not calm
            ):
                self._remb_fell_at = now
            self.remb_bps = remb_bps
        fell = self._remb_fell_at is not None and now - self._remb_fell_at < REMB_FALL_MEMORY_S
        # Chrome's overuse response is 0.85 x the video it received: a REMB far under
        # what we send while nothing is lost answers an earlier, lower rate (it grows
        # 8 %/s from where a pause left it), not this one
        video_bps = max(0.0, sent_bps - audio_bps)
        answers_now = (
            self.remb_bps is None
            or self.remb_bps >= STALE_BELOW * video_bps
            or loss >= LOSS_INCREASE_BELOW
        )
        if loss <= LOSS_DECREASE_ABOVE or calm:
            self._lossy_since = None  # in the calm, loss is the new keyframe's
        elif self._lossy_since is None:
            self._lossy_since = now
        heavy = loss > HEAVY_LOSS and not calm
        lossy = heavy or (
            self._lossy_since is not None and now - self._lossy_since >= LOSS_PERSIST_S
        )
        # a REMB far under what we send that never came down is the estimator still
        # climbing from where it started (100-140 kb/s a few seconds into a call that
        # receives 350): no measure of the link, so no budget either (a full queue's
        # back-off to 0.85 x would otherwise become a step to the lowest layer)
        self._remb_credible = (
            fell or dropped_out or self.remb_bps is None or self.remb_bps >= STALE_BELOW * video_bps
        )
        queue_bound = False
        if queue_s is not None:
            full = queue_s >= QUEUE_FULL_S
            self._standing = self._standing + 1 if queue_s >= QUEUE_STANDING_S else 0
            filling = (
                queue_watched
                and self._standing >= QUEUE_STANDING_FEEDBACKS
                and self.remb_bps is not None
                and self.remb_bps < REMB_SHORT * video_bps
            )
            if (
                (filling or (full and (self._queued_before or lost_any)))
                and not calm
                and video_bps > 0
            ):
                # what arrives is what the link carries, and it carries less than we
                # send: back off as libwebrtc does on overuse, or stop video if audio
                # already waits too long
                self._queued_at = now
                severe = queue_s >= QUEUE_SEVERE_S
                bound = audio_bps + (0.0 if severe else QUEUE_BACKOFF * video_bps)
                if severe:
                    self._queue_collapsed_at = now
                if self.loss_bound_bps is None or bound < self.loss_bound_bps:
                    self.loss_bound_bps = bound
                queue_bound = True
            self._queued_before = full
        queued = self._queued_at is not None and now - self._queued_at < REMB_FALL_MEMORY_S
        self.remb_congested = (fell and answers_now) or dropped_out or lossy or queued
        remb_short = (
            fell
            and answers_now
            and self.remb_bps is not None
            and self.remb_bps < REMB_SHORT * video_bps
        )
        if not remb_short:
            self._remb_short_since = None
        elif self._remb_short_since is None:
            self._remb_short_since = now
        short_since = self._remb_short_since
        remb_says = short_since is not None and (
            now - short_since >= REMB_SHORT_FOR_S
            or (self.remb_bps is not None and self.remb_bps < REMB_CLEAR_SHORT * video_bps)
        )
        if queue_watched and not queued:
            # a link short of what we send queues it first, and the audio's arrivals
            # show that queue within a tenth of a second: a REMB under what we send
            # with no queue is Chrome's estimate dipping or still climbing (137 kb/s
            # held for 2.5 s under 190 kb/s that a 300 kb/s link carried)
            remb_says = False
        self.congested = remb_says or dropped_out or lossy or queued
        delivered = overflow_sent_bps * (1.0 - overflow)
        # the NACK share alone over-reads loss at a cap's onset (a keyframe burst and
        # its resends lost in a small queue: 0.68-0.76 read under a 300 kb/s cap that
        # lets 70 % through, as much as under 60 kb/s): a collapse needs nearly all of it
        # NACKed, or the receiver's own word (a REMB under the floor, a starved receiver)
        corroborated = (
            overflow >= OVERFLOW_COLLAPSE
            or starved
            or (remb_bps is not None and remb_bps < COLLAPSED_REMB_BPS)
        )
        collapse = overflow > 0 and delivered - audio_bps < COLLAPSED_REMB_BPS and corroborated
        if collapse and overflow_sent_bps > 0 and not calm:
            # what got through leaves no room for any video: that is the bound (the loss
            # bound's sent x (1 - loss / 2) would step down a layer a second while audio
            # shares the full queue). Short of a collapse, what got through in half a
            # second says little: a keyframe's burst lost in a small queue reads as a
            # link of half its size
            if self.loss_bound_bps is None or delivered < self.loss_bound_bps:
                self.loss_bound_bps = delivered
        elif lossy and sent_bps > 0 and not settling:
            bound = sent_bps * (1.0 - loss / 2)
            if self.loss_bound_bps is None or bound < self.loss_bound_bps:
                self.loss_bound_bps = bound
        elif not queue_bound and loss < LOSS_INCREASE_BELOW and self.loss_bound_bps is not None:
            self.loss_bound_bps *= INCREASE_PER_S ** min(elapsed, 2.0)
            if (
                self._remb_credible
                and self.remb_bps is not None
                and self.loss_bound_bps > BOUND_FORGOTTEN_ABOVE_REMB * self.remb_bps
            ):
                self.loss_bound_bps = None
        self.limited_by_loss = self.loss_bound_bps is not None and (
            self.remb_bps is None
            or not self._remb_credible
            or ramping
            or self.loss_bound_bps - audio_bps < self.remb_bps
        )
        if ramping and dropped_out:
            return self.video_budget(audio_bps)
        if ramping and not self.limited_by_loss:
            return None  # a ramp, not a verdict: the layers stay as chosen
        if ramping:
            return int(max(0.0, (self.loss_bound_bps or 0.0) - audio_bps))
        return self.video_budget(audio_bps)

    def forget_probe(self, now: float) -> None:
        """A probe failed: what it did to the REMB and to loss is its own, for
        ``CALM_AFTER_PROBE_S`` (a collapse still counts, as after a step)."""
        self.forget_before_step(now)
        self._calm_until = now + CALM_AFTER_PROBE_S

    def forget_before_step(self, now: float) -> None:
        """The layers changed and feedback about the new ones has come: a REMB fall or a
        loss bound measured before says nothing of them; and for ``CALM_AFTER_STEP_S``
        neither loss nor a REMB fall counts (the new layer's first keyframe, a burst into
        a small policer queue, can lose most of one report and read as overuse), unless
        the link plainly collapsed (heavy loss, a REMB come down under 60 kb/s)."""
        self._remb_fell_at = None
        self.loss_bound_bps = None
        self.limited_by_loss = False
        self._lossy_since = None
        self._queued_at = None  # a queue the old layers built
        self._queued_before = False
        self._standing = 0
        self._calm_until = now + CALM_AFTER_STEP_S

    def reset(self, now: float | None = None) -> None:
        """Start over (video resumes after a pause: what was measured then is stale, and
        the subscriber's estimator ramps again from what arrives)."""
        self.remb_bps = None
        self.loss_bound_bps = None
        self.limited_by_loss = False
        self._remb_fell_at = None
        self._crossed_at = None
        self.remb_congested = False
        self.congested = False
        self._remb_short_since = None
        self._lossy_since = None
        self._queued_before = False
        self._standing = 0
        self._queued_at = None
        self._queue_collapsed_at = None
        if now is not None:
            self.start_ramp(now)
            self._calm_until = now + CALM_AFTER_STEP_S  # its keyframe, as after a step
