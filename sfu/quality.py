"""Per-subscriber link adaptation: which layer of each video it gets, or audio only.

When a receiver report about one of its videos comes (at most every
``MIN_EVALUATION_GAP_S``; once a second when none comes), the subscriber's feedback on
every consumer (receiver reports: loss and RTT; the share of our packets it NACKed,
which is its loss before retransmission; REMB) and what we sent it meanwhile become
one downlink estimate (``bandwidth.py``); the layer policy (``layer_selection.py``)
turns that and the publishers' measured layer bitrates into a target layer per video
consumer, or pauses them all (audio only). Consumers switch on the next keyframe of
their target layer. Audio is never paused. Each change of a publisher's layer or of audio-only is a
``QualityReport``. The user's choice (``prefer``) applies at once.

Loss is what retransmission did not repair: receiver reports (a video's weighed by the
packets each covers, over ``REPORT_LOSS_WINDOW_S``: one report of fifteen packets
says little) and packets NACKed again after their resend, never first NACKs (5 %
random loss is repaired, and no reason to drop video). Moving up, and video back
after audio only, go through a padding probe (``probe.py``) run here: padding paced
every ``PADDING_TICK_S`` on a video consumer's RTX stream, the outcome read from the
subscriber's REMB.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

import structlog

from sfu.audio_fit import AudioFit
from sfu.bandwidth import QUEUE_FULL_S, QUEUE_STANDING_S, DownlinkEstimate
from sfu.config import SfuConfig
from sfu.consumer import Consumer
from sfu.layer_selection import (
    PROBE_WINDOW_S,
    Decision,
    LayerSelector,
    SelectionPolicy,
    StreamLayers,
)
from sfu.models import QualityReport
from sfu.probe import PADDING_TICK_S, Probe, ProbeRequest
from sfu.starvation import Starvation, audio_corroborates

log = structlog.get_logger(__name__)

REMB_FRESH_S = 3.0
MIN_EVALUATION_GAP_S = 0.1
EVALUATION_INTERVAL_S = 1.0
RATE_WINDOW_S = 1.0
MIN_PACKETS_FOR_NACK_LOSS = 10
# a stream's first seconds lose packets on a healthy link too (a browser's first
# receiver reports and NACKs cover its start-up); its loss counts after this
LOSS_GRACE_S = 2.0
REPORT_LOSS_WINDOW_S = 2.5
# a link far short of what we send loses most of it at once (a 60 kb/s link under the
# top layer: four packets of five): NACKed at that share, it is overflowing
OVERFLOW_SHARE = 0.4
OVERFLOW_MIN_PACKETS = 16
OVERFLOW_WINDOW_S = 0.5
OVERFLOW_PERSIST_S = 0.25
# just after a step down the new layer's first keyframe, a burst, meets a queue the old
# layer kept full: most of it is lost and NACKed though the link carries the layer (a
# 400 kb/s link went audio only that way for 7.5 s); a collapse must outlast the burst
OVERFLOW_PERSIST_AFTER_STEP_S = 1.0
# a probe's padding may overflow the link on purpose: its media NACKs fail the probe,
# they say nothing of the layers sent before it
AFTER_PROBE_S = 1.0
# after a step down the new layer starts with a keyframe, a burst that a small policer
# queue drops and a delay-based estimator takes for overuse: feedback about the new
# layer counts from this long after the switch (within the selector's DOWN_SETTLE_S)
SETTLE_AFTER_SWITCH_S = 1.0
SOURCE_PRIORITY = {"screen": 0, "camera": 1}  # a shared document matters most
PROBE_RETRY_S = 1.0  # a probe that could send nothing, tried again after this
# the shortest round trip over this long is the path without a queue
QUEUE_BASELINE_WINDOW_S = 30.0
# arrival feedback older than this no longer says the subscriber numbers its audio's
# arrivals (Chrome sends it every 50-250 ms)
ARRIVALS_FRESH_S = 0.5
# a link that showed no queue this long did not take a step up badly: the loss that
# steps it down now is not the step's (a probe's step is judged within this window)
QUEUE_QUIET_S = PROBE_WINDOW_S
# a step down's keyframe paced at this times the new layer's rate catches up with the
# stream behind it within about a second (a 5 KB keyframe at 320 px), and leaves a 300
# kb/s link room to drain the queue the old layer left (320 px and audio: 260 kb/s)
PACE_OVER_LAYER = 1.25
MIN_PACE_BPS = 50_000
# the longest a full link's step down holds the new keyframe for the queue to drain (a
# 300 kb/s tbf with 4 KB of burst and 50 ms of latency holds 160 ms)
MAX_SWITCH_HOLD_S = 0.3


def policy_of(config: SfuConfig) -> SelectionPolicy:
    return SelectionPolicy(
        up_factor=config.layer_up_factor,
        up_hold_s=config.layer_up_hold_s,
        resume_hold_s=config.video_resume_hold_s,
        loss_threshold=config.loss_threshold,
        audio_only_floor_bps=config.audio_only_floor_bps,
        start_bitrate_bps=config.start_bitrate_bps,
    )


class _MediaKind(Protocol):
    @property
    def kind(self) -> str: ...


class SentCounts(Protocol):
    """What ``SendWindow`` reads of a consumer: its send counters and its media kind."""

    @property
    def bytes_sent(self) -> int: ...
    @property
    def packets_sent(self) -> int: ...
    @property
    def packets_nacked(self) -> int: ...
    @property
    def packets_renacked(self) -> int: ...
    @property
    def producer(self) -> _MediaKind: ...


class SendWindow:
    """What we sent one subscriber, and what it said went missing, over about the last
    ``RATE_WINDOW_S``: the span one receiver report covers, however often we evaluate.
    Only packets NACKed again after their resend count (loss the repair did not hide),
    and only once a stream is past its first ``LOSS_GRACE_S``."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, int, int, int]] = {}
        self._sending_since: dict[int, float] = {}  # by consumer: its first packets
        # cumulative (time, all bytes, audio bytes, video packets, packets NACKed again,
        # packets NACKed at all)
        self._history: deque[tuple[float, int, int, int, int, int]] = deque()

    def past_start_up(self, consumer: SentCounts, now: float) -> bool:
        since = self._sending_since.get(id(consumer))
        return since is not None and now - since >= LOSS_GRACE_S

    def add(self, previous: float, now: float, consumers: Iterable[SentCounts]) -> None:
        history = self._history
        if not history:
            history.append((previous, 0, 0, 0, 0, 0))
        _, sent, audio, packets, nacked, missing = history[-1]
        seen: dict[int, tuple[int, int, int, int]] = {}
        sending_since: dict[int, float] = {}
        for consumer in consumers:
            key = id(consumer)
            counts = (
                consumer.bytes_sent,
                consumer.packets_sent,
                consumer.packets_renacked,
                consumer.packets_nacked,
            )
            before = self._seen.get(key, counts)
            seen[key] = counts
            if counts[1]:  # it sent since the last evaluation at the latest
                sending_since[key] = self._sending_since.get(key, previous)
            delta_bytes = counts[0] - before[0]
            sent += delta_bytes
            if consumer.producer.kind == "audio":
                audio += delta_bytes
            else:
                packets += counts[1] - before[1]
                if self.past_start_up(consumer, now):
                    nacked += counts[2] - before[2]
                    missing += counts[3] - before[3]
        self._seen = seen
        self._sending_since = sending_since
        history.append((now, sent, audio, packets, nacked, missing))
        while len(history) > 2 and now - history[1][0] >= RATE_WINDOW_S:
            history.popleft()

    def forget_before(self, moment: float) -> None:
        """Drop what was sent before ``moment`` (the layers changed then)."""
        history = self._history
        while len(history) > 1 and history[0][0] < moment:
            history.popleft()

    def nacked_any(self) -> bool:
        """Whether the subscriber NACKed any video over the window."""
        history = self._history
        return len(history) > 1 and history[-1][5] > history[0][5]

    def enough_video(self) -> bool:
        history = self._history
        return len(history) > 1 and history[-1][3] - history[0][3] >= MIN_PACKETS_FOR_NACK_LOSS

    def overflow(self) -> tuple[float, float]:
        """(share of video packets NACKed at all, all b/s sent) over about the last
        ``OVERFLOW_WINDOW_S``, when that share says the link is overflowing
        (``OVERFLOW_SHARE`` of at least ``OVERFLOW_MIN_PACKETS``), else (0, 0). First
        NACKs come within a round trip of the loss, a second or more before a receiver
        report or a delay-based estimate shows it; 5 % random loss reads 40 % of 16
        packets about once in 170 000 windows."""
        history = self._history
        if len(history) < 2:
            return 0.0, 0.0
        last = history[-1]
        first = history[0]
        for entry in reversed(history):
            if last[0] - entry[0] >= OVERFLOW_WINDOW_S:
                first = entry
                break
        packets = last[3] - first[3]
        span = last[0] - first[0]
        if packets < OVERFLOW_MIN_PACKETS or span <= 0:
            return 0.0, 0.0
        share = min(1.0, (last[5] - first[5]) / packets)
        if share < OVERFLOW_SHARE:
            return 0.0, 0.0
        return share, (last[1] - first[1]) * 8 / span

    def rates(self) -> tuple[float, float, float]:
        """(all b/s, audio b/s, share of video packets NACKed again) over the window."""
        if len(self._history) < 2:
            return 0.0, 0.0, 0.0
        first, last = self._history[0], self._history[-1]
        span = last[0] - first[0]
        if span <= 0:
            return 0.0, 0.0, 0.0
        packets = last[3] - first[3]
        nack_loss = 0.0 if packets < MIN_PACKETS_FOR_NACK_LOSS else (last[4] - first[4]) / packets
        return (
            (last[1] - first[1]) * 8 / span,
            (last[2] - first[2]) * 8 / span,
            min(1.0, nack_loss),
        )


class QueueDelay:
    """How long what we send the subscriber now waits in a queue on the way, from two
    sources. Each sender report's round trip over the shortest one over
    ``QUEUE_BASELINE_WINDOW_S`` (the path with no queue): a link that fills shows here a
    report or two before anything is lost, 93 ms under a 400 kb/s cap, 407 ms under
    60 kb/s, half a millisecond with no cap (bench.link), when NACKs and the REMB take
    another second. And, where the subscriber numbers its audio's arrivals
    (``sfu.arrival_delay``), each transport-wide feedback, every 50 to 250 ms."""

    def __init__(self) -> None:
        self._rtts: deque[tuple[float, float]] = deque()
        self._seen: dict[int, int] = {}
        self._feedbacks: dict[int, tuple[int, int]] = {}
        self.audio_lost = 0  # audio packets the newest feedbacks say did not arrive
        self.standing_at: float | None = None  # when a queue last stood QUEUE_STANDING_S
        self.audio_lost_at: float | None = None  # when feedback last said audio was lost

    def update(self, now: float, consumers: Iterable[Consumer]) -> float | None:
        """The queue delay a new round trip or arrival feedback shows (None: none new
        since the last call)."""
        arrival: float | None = None
        newest_rtt: float | None = None
        seen: dict[int, int] = {}
        feedbacks: dict[int, tuple[int, int]] = {}
        self.audio_lost = 0
        while self._rtts and now - self._rtts[0][0] > QUEUE_BASELINE_WINDOW_S:
            self._rtts.popleft()
        for consumer in consumers:
            key = id(consumer)
            if consumer.producer.kind == "audio":
                arrivals = consumer.arrivals
                feedbacks[key] = (arrivals.feedbacks, arrivals.lost)
                before = self._feedbacks.get(key, (0, 0))
                if arrivals.feedbacks != before[0] and arrivals.queue_s is not None:
                    arrival = max(arrival or 0.0, arrivals.queue_s)
                    self.audio_lost += arrivals.lost - before[1]
                continue
            rtt = consumer.rtt_s
            if consumer.paused or rtt is None:
                continue
            seen[key] = consumer.rtt_samples
            if self._seen.get(key) == consumer.rtt_samples:
                continue
            self._rtts.append((now, rtt))
            newest_rtt = max(newest_rtt or 0.0, rtt)
        self._seen = seen
        self._feedbacks = feedbacks
        if newest_rtt is None:
            queue = arrival
        else:
            queue = newest_rtt - min(r for _, r in self._rtts)
            queue = queue if arrival is None else max(queue, arrival)
        if queue is not None and queue >= QUEUE_STANDING_S:
            self.standing_at = now
        if self.audio_lost > 0:
            self.audio_lost_at = now
        return queue


class OverflowWatch:
    """Whether a NACK-share overflow has lasted long enough to be the link rather than a
    keyframe's burst: ``OVERFLOW_PERSIST_S`` (``OVERFLOW_PERSIST_AFTER_STEP_S`` while a
    step down settles)."""

    def __init__(self) -> None:
        self._since: float | None = None

    def update(self, now: float, overflow: float, settling: bool) -> float:
        """``overflow`` if it has lasted, else 0."""
        if not overflow:
            self._since = None
            return 0.0
        if self._since is None:
            self._since = now
        persist = OVERFLOW_PERSIST_AFTER_STEP_S if settling else OVERFLOW_PERSIST_S
        return overflow if now - self._since >= persist else 0.0


class ReportLoss:
    """The loss receiver reports give, per consumer: its reports weighed by the packets
    each covers over ``REPORT_LOSS_WINDOW_S`` (Chrome reports audio every 5 s or so, one
    report a window; video and aiortc's audio about every second).

    While video flows, audio reports do not count: the video's own reports, every
    second, describe the link now (and show any loss the audio meets, audio going first
    in every batch), where one of Chrome's audio reports covers 5 s, most of them past.
    A 1.5 s loss burst that the video's reports had shown over for 3 s put a call in
    audio only through the next audio report (19.5 % lost over its 5 s)."""

    def __init__(self) -> None:
        self._seen: dict[int, tuple[int, int]] = {}  # reports, packets_sent at the last
        self._reports: dict[int, deque[tuple[float, float, int]]] = {}
        self._skip: dict[int, int] = {}  # by consumer: its report count when resumed

    def skip_next(self, consumers: Iterable[Consumer]) -> None:
        """Video resumes: each consumer's next report is not about it. A receiver counts
        as lost every number between the last packet it got and the next one, so the
        first report after a pause also covers what the congestion took before the
        pause (about 0.6 lost, on an unshaped link, when video came back after a
        60 kb/s cap)."""
        for consumer in consumers:
            self._skip[id(consumer)] = consumer.receiver_reports

    def forget_before(self, moment: float) -> None:
        """Reports that came before ``moment`` (the layers changed then) no longer count."""
        for reports in self._reports.values():
            while reports and reports[0][0] < moment:
                reports.popleft()

    def update(self, now: float, consumers: Iterable[Consumer], window: SendWindow) -> float:
        worst = 0.0
        seen: dict[int, tuple[int, int]] = {}
        consumers = list(consumers)
        video_flows = any(c.producer.kind == "video" and not c.paused for c in consumers)
        for consumer in consumers:
            key = id(consumer)
            count, packets = consumer.receiver_reports, consumer.packets_sent
            previous = self._seen.get(key, (0, 0))
            seen[key] = (count, packets) if count != previous[0] else previous
            if not count or not window.past_start_up(consumer, now):
                continue
            if video_flows and consumer.producer.kind == "audio":
                self._reports.pop(key, None)
                continue
            reports = self._reports.setdefault(key, deque())
            skipped = self._skip.get(key)
            if count != previous[0] and skipped is not None and count > skipped:
                del self._skip[key]  # the first report since the resume: not about it
            elif count != previous[0]:
                reports.append((now, consumer.fraction_lost, max(1, packets - previous[1])))
            while reports and now - reports[0][0] > REPORT_LOSS_WINDOW_S:
                reports.popleft()
            total = sum(covered for _, _, covered in reports)
            if total:
                lost = sum(fraction * covered for _, fraction, covered in reports)
                worst = max(worst, lost / total)
        self._seen = seen
        self._reports = {k: v for k, v in self._reports.items() if k in seen}
        return worst


class LinkAdaptation:
    def __init__(self, config: SfuConfig, report: Callable[[QualityReport], None]) -> None:
        self._report = report
        self._selector = LayerSelector(policy_of(config))
        self._estimate = DownlinkEstimate()
        self.forced = False
        self.max_layer: int | None = None
        # per publisher: the layer its tile on the subscriber's page needs (a small
        # thumbnail needs no 720p); under the user's cap and the link's estimate
        self.wanted: dict[str, int] = {}
        self.loss = 0.0
        self.rtt_ms: float | None = None
        self.budget_bps: int | None = None
        self._last_evaluation: float | None = None
        self._reported: dict[str, tuple[int | None, bool, str | None]] = {}
        self._videos: list[Consumer] = []
        self._window = SendWindow()
        self._report_loss = ReportLoss()
        self._video_flowing = False
        self._was_settling = False
        self._probe: Probe | None = None
        self._probe_consumer: Consumer | None = None
        self._probe_timer: asyncio.TimerHandle | None = None
        self._probe_marks = (0, 0)
        self._probe_reports = 0
        self._consumers: list[Consumer] = []
        self.probes = 0
        self.probes_failed = 0
        self.overflow = 0.0
        self._probe_ended_at = -1e9
        self._probe_not_before = 0.0
        self._overflow = OverflowWatch()
        self._queue = QueueDelay()
        self.queue_s: float | None = None
        self._starved = False
        self._starvation = Starvation()
        self._audio_fit = AudioFit()
        self._audio_bps = 0.0  # the audio we sent over the last window

    @property
    def audio_only(self) -> bool:
        return self._selector.audio_only

    @property
    def reason(self) -> str:
        return self._selector.reason

    @property
    def estimate_bps(self) -> int:
        return self.budget_bps or 0

    def evaluate(self, consumers: Iterable[Consumer]) -> None:
        """Fold in the last interval's feedback, then choose layers."""
        consumers = list(consumers)
        now = time.monotonic()
        previous = self._last_evaluation
        elapsed = None if previous is None else now - previous
        self._last_evaluation = now
        window = self._window
        window.add(previous or now, now, consumers)
        self._consumers = consumers
        if not consumers:
            return
        self._end_settling(now, consumers)
        settling = self._selector.settling(now)
        if self._was_settling and not settling:
            videos = [c for c in consumers if c.producer.kind == "video" and not c.paused]
            switched_at = max((c.switched_at for c in videos), default=now)
            self._report_loss.forget_before(switched_at)
            self._estimate.forget_before_step(now)
        self._was_settling = settling
        report_loss = self._report_loss.update(now, consumers, window)
        sent_bps, audio_bps, renack_loss = window.rates()
        self._audio_bps = audio_bps
        self.loss = max(report_loss, renack_loss)
        overflow, overflow_sent_bps = 0.0, 0.0
        self._starved = False
        if self._probe is None and now - self._probe_ended_at >= AFTER_PROBE_S:
            overflow, overflow_sent_bps = window.overflow()
            # a keyframe's NACKs can fill a half-second window whose own packets are
            # few: a collapse read from NACKs must last
            overflow = self._overflow.update(now, overflow, settling)
            videos = [
                c
                for c in consumers
                if c.producer.kind == "video" and not c.paused and window.past_start_up(c, now)
            ]
            corroborated = audio_corroborates(
                now,
                self._arrival_queue(now) is not None,
                self._queue.standing_at,
                self._queue.audio_lost_at,
            )
            starved = self._starvation.share(videos, corroborated)
            self._starved = starved > 0
            if starved > overflow:
                overflow, overflow_sent_bps = starved, sent_bps
        self.overflow = overflow
        if overflow:
            self.loss = max(self.loss, overflow)
        flowing = any(c.producer.kind == "video" and not c.paused for c in consumers)
        if flowing and not self._video_flowing:
            self._estimate.start_ramp(now)  # its REMB starts from what it measures
        self._video_flowing = flowing
        queue_s = self._queue.update(now, consumers)
        if queue_s is not None:
            self.queue_s = queue_s
        rtts = [c.rtt_s for c in consumers if c.rtt_s is not None]
        self.rtt_ms = max(rtts) * 1000 if rtts else None
        for consumer in consumers:
            consumer.fresh_feedback = False
        rembs = [
            c.remb_bps
            for c in consumers
            if c.remb_bps is not None and not c.paused and now - c.remb_at < REMB_FRESH_S
        ]
        if elapsed:
            self.budget_bps = self._estimate.update(
                now,
                min(rembs) if rembs else None,
                self.loss,
                sent_bps,
                audio_bps,
                settling=self._selector.settling(now),
                overflow=overflow,
                overflow_sent_bps=overflow_sent_bps,
                starved=self._starved,
                queue_s=queue_s,
                queue_watched=self._arrival_queue(now) is not None,
                lost_any=self.loss > 0 or window.nacked_any() or self._queue.audio_lost > 0,
            )
        self._decide(now, consumers)
        self._fit_audio(now, consumers)
        self._maybe_probe(now, sent_bps - audio_bps)

    def _fit_audio(self, now: float, consumers: list[Consumer]) -> None:
        """Ask the publishers for less audio while even audio overflows this link, and
        withdraw the ask once video flows again (``sfu.audio_fit``). A probe's padding
        fills the queue on purpose: what audio shows then, and just after, is the probe's."""
        probing = self._probe is not None or now - self._probe_ended_at < AFTER_PROBE_S
        if not probing or not self.audio_only:
            self._audio_fit.update(now, self.audio_only, self._arrival_queue(now))
        ask = self._audio_fit.cap_bps
        for consumer in consumers:
            if consumer.producer.kind == "audio" and consumer.audio_ask_bps != ask:
                consumer.audio_ask_bps = ask
                consumer.producer.audio_asks_changed()

    def _end_settling(self, now: float, consumers: list[Consumer]) -> None:
        """After a step down, feedback counts again once it is about the new layers: a
        receiver report mostly about them, or enough of their packets for the NACK share."""
        if not self._selector.settling(now):
            return
        videos = [c for c in consumers if c.producer.kind == "video" and not c.paused]
        if any(c.current_layer != c.target_layer for c in videos):
            return  # still waiting for a keyframe of a lower layer
        switched_at = max((c.switched_at for c in videos), default=0.0)
        if now - switched_at < SETTLE_AFTER_SWITCH_S:
            return  # the new layer's keyframe burst is still what the feedback is about
        self._window.forget_before(switched_at)
        if all(c.reported_since_switch() for c in videos) or self._window.enough_video():
            self._selector.feedback_after_step()

    def due(self, now: float, consumers: Iterable[Consumer]) -> bool:
        """Whether to evaluate now: a fresh video receiver report, or the interval."""
        last = self._last_evaluation
        if last is None or now - last >= EVALUATION_INTERVAL_S:
            return True
        return now - last >= MIN_EVALUATION_GAP_S and any(c.fresh_feedback for c in consumers)

    def next_due(self, now: float) -> float:
        """Seconds until the earliest moment ``due`` may turn true."""
        if self._last_evaluation is None:
            return 0.0
        return max(0.0, self._last_evaluation + MIN_EVALUATION_GAP_S - now)

    def prefer(
        self, consumers: Iterable[Consumer], audio_only: bool, max_layer: int | None
    ) -> None:
        """The user's choice: audio only, or a highest layer (None: no limit)."""
        raised = self.max_layer is not None and (max_layer is None or max_layer > self.max_layer)
        self.forced = audio_only
        self.max_layer = max_layer
        self._decide(time.monotonic(), list(consumers), cap_raised=raised)

    def want(self, consumers: Iterable[Consumer], publisher_id: str, layer: int | None) -> None:
        """The subscriber's tile for ``publisher_id`` needs no layer above ``layer``
        (None: any); a raised want is tried at once, like a raised cap."""
        before = self.wanted.get(publisher_id)
        if layer is None:
            self.wanted.pop(publisher_id, None)
        else:
            self.wanted[publisher_id] = layer
        raised = before is not None and (layer is None or layer > before)
        self._decide(time.monotonic(), list(consumers), cap_raised=raised)

    def place(self, consumers: Iterable[Consumer]) -> None:
        """Give new consumers their first layer now rather than at the next evaluation."""
        self._decide(time.monotonic(), list(consumers))

    def _decide(self, now: float, consumers: list[Consumer], cap_raised: bool = False) -> None:
        videos = sorted(
            (c for c in consumers if c.producer.kind == "video"),
            key=lambda c: SOURCE_PRIORITY.get(c.producer.source, 2),
        )
        self._videos = videos
        streams = self._streams(videos)
        was_audio_only = self._selector.audio_only
        decision = self._selector.update(
            now,
            self.budget_bps,
            self.loss,
            streams,
            forced_audio_only=self.forced,
            limited_by_loss=self._estimate.limited_by_loss,
            cap_raised=cap_raised,
            remb_congested=self._estimate.congested,
            can_probe=self._padding_consumer(videos) is not None,
            loss_counts=not self._estimate.calm(now),
            link_collapsed=self._estimate.queue_collapsed(now),
            step_blamed=self._step_blamed(now),
        )
        self._apply(now, videos, decision, was_audio_only)

    def _step_blamed(self, now: float) -> bool:
        """Whether a step down now counts against the last step up: unless the
        subscriber numbers its audio's arrivals and they showed no queue over
        ``QUEUE_QUIET_S``. A layer the link cannot carry fills a queue (40-50 ms standing
        under a 400 kb/s cap, 400 ms under 60 kb/s); 80 % loss for 1.5 s a second after
        the user raised the cap, none, and backed the layer off 30 s."""
        if self._arrival_queue(now) is None:
            return True
        seen = self._queue.standing_at
        return seen is not None and now - seen < QUEUE_QUIET_S

    def _apply(
        self, now: float, videos: list[Consumer], decision: Decision, was_audio_only: bool
    ) -> None:
        resuming = was_audio_only and not decision.audio_only
        if decision.changed:
            remb, _ = self._latest_remb()
            log.info(
                "sfu_link",
                publishers=sorted({c.producer.participant_id for c in videos}),
                audio_only=decision.audio_only,
                layers=[decision.layers.get(c) for c in videos],
                reason=decision.reason,
                budget_bps=self.budget_bps,
                remb=remb,
                queue_ms=None if self.queue_s is None else round(self.queue_s * 1000),
                loss=round(self.loss, 3),
                overflow=round(self.overflow, 3),
            )
        if decision.changed and self._probe is not None:
            self._end_probe()  # it was for layers that are no longer the question
        if decision.audio_only:
            for consumer in videos:
                consumer.pause()
        else:
            full = self._estimate.congested
            # the queue the old layer left drains before the new keyframe goes in
            hold_s = min(MAX_SWITCH_HOLD_S, self.queue_s or 0.0)
            for consumer in videos:
                layer = decision.layers.get(consumer)
                consumer.set_target_layer(
                    layer,
                    link_full=full,
                    pace_bps=self._switch_pace_bps(consumer, layer, videos) if full else None,
                    hold_s=hold_s,
                )
                consumer.resume()
            if resuming:
                # what was measured before the pause says little about the link now,
                # and the subscriber's estimator ramps again from what arrives
                self._estimate.reset(now)
                self._report_loss.forget_before(now)  # about the paused time
                self._report_loss.skip_next(videos)
                self._window.forget_before(now)
                self.budget_bps = None
                self._video_flowing = True
                self._fit_audio(now, self._consumers)  # the link carries more than audio
        for publisher_id in sorted({c.producer.participant_id for c in videos}):
            # the reason counts while audio only: the page says why there is no picture
            reason = self.reason if self.audio_only else None
            state = (self._layer_of(publisher_id, videos), self.audio_only, reason)
            if self._reported.get(publisher_id) != state:
                self._reported[publisher_id] = state
                self._report(self.current(publisher_id))

    def _switch_pace_bps(
        self, consumer: Consumer, layer: int | None, videos: list[Consumer]
    ) -> float | None:
        """The rate a step down's keyframe leaves at on a full link (``sfu.pacing``):
        ``PACE_OVER_LAYER`` times the new layer's own rate, enough for the pacer to catch
        up with the stream behind the keyframe and far enough under what the link
        carries for the queue the old layer left to drain meanwhile. The estimate is no
        guide there: at the step under a 300 kb/s cap it still read 301 kb/s, and a
        keyframe paced at that rate was lost in the queue as before. Without a
        measured rate for the layer, the estimate less the audio, shared by the videos
        (None: neither, sent at once)."""
        if layer is None:
            return None
        rates = consumer.producer.layer_bitrates()
        layer_bps = rates[layer] if 0 <= layer < len(rates) else 0.0
        if layer_bps > 0:
            return max(PACE_OVER_LAYER * layer_bps, MIN_PACE_BPS)
        if self.budget_bps is None:
            return None
        shared = (self.budget_bps - self._audio_bps) / max(1, len(videos))
        return max(shared, MIN_PACE_BPS)

    def _streams(self, videos: list[Consumer]) -> list[StreamLayers]:
        return [StreamLayers(c, c.producer.layer_bitrates(), self._cap(c)) for c in videos]

    # --- probing --------------------------------------------------------------------
    @staticmethod
    def _padding_consumer(videos: list[Consumer], preferred: object = None) -> Consumer | None:
        """The video whose RTX stream carries a probe's padding (None: no RTX anywhere)."""
        able = [c for c in videos if c.attached and c.sender.rtx_payload_type is not None]
        return next((c for c in able if c is preferred), able[0] if able else None)

    def _latest_remb(self) -> tuple[int | None, float]:
        heard = [c for c in self._videos if c.remb_bps is not None]
        if not heard:
            return None, 0.0
        latest = max(heard, key=lambda c: c.remb_at)
        return latest.remb_bps, latest.remb_at

    def _maybe_probe(self, now: float, video_bps: float) -> None:
        """Start the probe the layer policy asks for, if any and none is running."""
        if self._probe is not None or self.forced or now < self._probe_not_before:
            return
        standing = self._arrival_queue(now)
        if standing is not None and standing >= QUEUE_FULL_S:
            return  # the link is full already: padding would only wait, and the audio too
        videos = self._videos
        streams = self._streams(videos)
        request = self._selector.probe_wanted(
            now, self.loss, streams, self._estimate.remb_congested
        )
        if request is None:
            return
        consumer = self._padding_consumer(videos, request.key)
        if consumer is None:
            return
        budget = self.budget_bps
        if not request.resume and budget is not None and budget >= request.goal_bps:
            # the subscriber's estimate already covers the step: nothing to find out
            self._conclude(now, request, True)
            return
        remb, _ = self._latest_remb()  # a paused video's last REMB is still the base
        rtt = None if self.rtt_ms is None else self.rtt_ms / 1000
        self._probe = Probe.start(now, request, max(0.0, video_bps), remb, rtt)
        self._probe_consumer = consumer
        self._probe_marks = self._media_counts()
        self._probe_reports = self._reports_heard()
        self.probes += 1
        self._schedule_padding(0.0)

    def _schedule_padding(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._end_probe()
            return
        self._probe_timer = loop.call_later(delay, self._pad)

    def _pad(self) -> None:
        """One tick of a probe: its padding due, then whether its outcome is known."""
        self._probe_timer = None
        probe, consumer = self._probe, self._probe_consumer
        if probe is None or consumer is None:
            return
        now = time.monotonic()
        due = probe.padding_packets(now)
        if due:
            sent = consumer.send_padding(due)
            probe.packets_sent += sent
            if not sent:
                # the connection is down or not up yet (a consumer just made for a
                # publisher that restarted ICE), or the consumer is gone: the link said
                # nothing, so no back-off; the probe is tried again shortly
                log.info(
                    "sfu_probe_not_sent", layer=probe.request.layer, resume=probe.request.resume
                )
                self._end_probe()
                self._probe_not_before = now + PROBE_RETRY_S
                return
        queue = self._arrival_queue(now, since=probe.started)
        if queue is not None:
            probe.arrival(self._arrival_sampled_at(), queue, self._audio_lost())
        if queue is not None and queue >= QUEUE_FULL_S:
            # the probe is filling the link's queue (the audio's arrivals say so a tenth
            # of a second after): it is not carried, and stops before the audio suffers
            log.info("sfu_probe_queued", layer=probe.request.layer, queue_ms=queue * 1000)
            self._conclude(now, probe.request, False)
            return
        remb, remb_at = self._latest_remb()
        nacked, sent = self._media_counts()
        # loss reported before the probe is not about it; nor, to bring video back, are
        # audio reports (each covers 5 s, most of them from before the probe)
        fresh = self._reports_heard() != self._probe_reports and not probe.request.resume
        outcome = probe.outcome(
            now,
            remb,
            remb_at,
            self.loss if fresh else 0.0,
            nacked - self._probe_marks[0],
            sent - self._probe_marks[1],
        )
        if outcome is not None:
            self._conclude(now, probe.request, outcome)
            return
        self._schedule_padding(PADDING_TICK_S if now < probe.ends else 0.1)

    def _arrival_queue(self, now: float, since: float | None = None) -> float | None:
        """The queue the newest arrival feedback shows (``sfu.arrival_delay``), the
        worst over the subscriber's numbered audio; None when none came within
        ``ARRIVALS_FRESH_S`` (or since ``since``): the subscriber does not number them."""
        fresh = now - ARRIVALS_FRESH_S if since is None else max(since, now - ARRIVALS_FRESH_S)
        queues = [
            c.arrivals.queue_s
            for c in self._consumers
            if c.producer.kind == "audio"
            and c.arrivals.queue_s is not None
            and c.arrivals.sampled_at >= fresh
        ]
        return max(queues) if queues else None

    def _arrival_sampled_at(self) -> float:
        """When the newest arrival feedback on the subscriber's audio came."""
        return max(
            (c.arrivals.sampled_at for c in self._consumers if c.producer.kind == "audio"),
            default=-1e9,
        )

    def _audio_lost(self) -> int:
        """Audio packets the subscriber's arrival feedback reported lost, in all."""
        return sum(c.arrivals.lost for c in self._consumers if c.producer.kind == "audio")

    def _reports_heard(self) -> int:
        return sum(c.receiver_reports for c in self._consumers)

    def _media_counts(self) -> tuple[int, int]:
        """(packets NACKed, packets sent) over the video consumers."""
        videos = [c for c in self._videos if not c.paused]
        return sum(c.packets_nacked for c in videos), sum(c.packets_sent for c in videos)

    def _conclude(self, now: float, request: ProbeRequest, carried: bool) -> None:
        probe = self._probe
        remb, remb_at = self._latest_remb()
        log.info(
            "sfu_probe",
            carried=carried,
            resume=request.resume,
            layer=request.layer,
            goal_bps=int(request.goal_bps),
            padding_packets=0 if probe is None else probe.packets_sent,
            remb_before=None if probe is None else probe.remb_before,
            remb=remb,
            remb_age_s=round(now - remb_at, 2),
            loss=round(self.loss, 3),
        )
        self._end_probe()
        if not carried:
            self.probes_failed += 1
            if not request.resume:
                # the REMB fall and the loss it caused are the probe's: the layers sent
                # meanwhile carried before it and still do
                self._estimate.forget_probe(now)
                self._report_loss.forget_before(now)
        videos = self._videos
        was_audio_only = self._selector.audio_only
        decision = self._selector.probe_result(now, request, carried, self._streams(videos))
        if decision.changed:
            self._apply(now, videos, decision, was_audio_only)

    def _end_probe(self) -> None:
        if self._probe_timer is not None:
            self._probe_timer.cancel()
        if self._probe is not None:
            self._probe_ended_at = time.monotonic()
        self._probe_timer = None
        self._probe = None
        self._probe_consumer = None

    def close(self) -> None:
        """The subscriber is gone: no more padding."""
        self._end_probe()

    def _cap(self, consumer: Consumer) -> int | None:
        top = len(consumer.producer.layer_bitrates()) - 1
        caps = [self.max_layer, self.wanted.get(consumer.producer.participant_id)]
        limits = [cap for cap in caps if cap is not None]
        return min(min(limits), top) if limits else None

    def _layer_of(self, publisher_id: str, videos: list[Consumer]) -> int | None:
        if self.audio_only:
            return None
        layers = [c.target_layer for c in videos if c.producer.participant_id == publisher_id]
        return next((layer for layer in layers if layer is not None), None)

    def current(self, publisher_id: str) -> QualityReport:
        return QualityReport(
            publisher_id=publisher_id,
            layer=self._layer_of(publisher_id, self._videos),
            audio_only=self.audio_only,
            reason=self.reason,
            estimate_bps=int(self.budget_bps or 0),
            loss=round(self.loss, 4),
            rtt_ms=None if self.rtt_ms is None else round(self.rtt_ms, 1),
        )
