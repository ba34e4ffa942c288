"""Per-subscriber link quality: pause video when the downlink cannot carry it.

Evaluated about once a second from the subscriber's receiver reports (loss, RTT) and
REMB. Video goes audio-only when the estimate is under ``audio_only_floor_bps`` or
loss stays above ``loss_threshold`` for two evaluations in a row; it comes back once
the link has been good for ``video_resume_hold_s``. Audio is never paused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sfu.config import SfuConfig
from sfu.consumer import Consumer
from sfu.models import QualityReport

BAD_EVALUATIONS_TO_DROP = 2


class LinkQuality:
    def __init__(self, config: SfuConfig, report: Callable[[QualityReport], None]) -> None:
        self._config = config
        self._report = report
        self.audio_only = False
        self.forced = False
        self.reason = "start"
        self.estimate_bps = 0
        self.loss = 0.0
        self.rtt_ms: float | None = None
        self._bad_streak = 0
        self._good_since: float | None = None

    def evaluate(self, consumers: Iterable[Consumer]) -> None:
        consumers = list(consumers)
        if not consumers:
            return
        losses = [c.fraction_lost for c in consumers if c.receiver_reports]
        self.loss = max(losses, default=0.0)
        rtts = [c.rtt_s for c in consumers if c.rtt_s is not None]
        self.rtt_ms = max(rtts) * 1000 if rtts else None
        rembs = [c.remb_bps for c in consumers if c.remb_bps is not None and not c.paused]
        if rembs:
            self.estimate_bps = min(rembs)
        if self.forced:
            return
        low_estimate = bool(rembs) and self.estimate_bps < self._config.audio_only_floor_bps
        lossy = self.loss > self._config.loss_threshold
        now = time.monotonic()
        if low_estimate or lossy:
            self._bad_streak += 1
            self._good_since = None
            if not self.audio_only and (
                low_estimate or self._bad_streak >= BAD_EVALUATIONS_TO_DROP
            ):
                self._set_audio_only(consumers, True, "bandwidth" if low_estimate else "loss")
            return
        self._bad_streak = 0
        if self._good_since is None:
            self._good_since = now
        if self.audio_only and now - self._good_since >= self._config.video_resume_hold_s:
            self._set_audio_only(consumers, False, "recovered")

    def force(self, consumers: Iterable[Consumer], audio_only: bool) -> None:
        self.forced = audio_only
        self._good_since = None
        self._bad_streak = 0
        if audio_only != self.audio_only:
            self._set_audio_only(list(consumers), audio_only, "user" if audio_only else "user-auto")

    def _set_audio_only(self, consumers: list[Consumer], audio_only: bool, reason: str) -> None:
        self.audio_only = audio_only
        self.reason = reason
        publishers: set[str] = set()
        for consumer in consumers:
            if consumer.producer.kind != "video":
                continue
            publishers.add(consumer.producer.participant_id)
            if audio_only:
                consumer.pause()
            else:
                consumer.resume()
        for publisher_id in sorted(publishers):
            self._report(self.current(publisher_id))

    def current(self, publisher_id: str) -> QualityReport:
        return QualityReport(
            publisher_id=publisher_id,
            layer=None if self.audio_only else 0,
            audio_only=self.audio_only,
            reason=self.reason,
            estimate_bps=int(self.estimate_bps),
            loss=round(self.loss, 4),
            rtt_ms=None if self.rtt_ms is None else round(self.rtt_ms, 1),
        )
