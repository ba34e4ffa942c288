"""Per-subscriber link quality: which layer of each video it gets, or audio only.

About once a second the subscriber's feedback on every consumer (receiver reports:
loss and RTT; REMB) and what we sent it meanwhile become one downlink estimate
(``bandwidth.py``); the layer policy (``layer_selection.py``) turns that and the
publishers' measured layer bitrates into a target layer per video consumer, or pauses
them all (audio only). Consumers switch on the next keyframe of their target layer.
Audio is never paused. Each change of a publisher's layer or of audio-only is a
``QualityReport``. The user's choice (``prefer``) applies at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sfu.bandwidth import DownlinkEstimate
from sfu.config import SfuConfig
from sfu.consumer import Consumer
from sfu.layer_selection import LayerSelector, SelectionPolicy, StreamLayers
from sfu.models import QualityReport

REMB_FRESH_S = 3.0
SOURCE_PRIORITY = {"screen": 0, "camera": 1}  # a shared document matters most


def policy_of(config: SfuConfig) -> SelectionPolicy:
    return SelectionPolicy(
        up_factor=config.layer_up_factor,
        up_hold_s=config.layer_up_hold_s,
        resume_hold_s=config.video_resume_hold_s,
        loss_threshold=config.loss_threshold,
        audio_only_floor_bps=config.audio_only_floor_bps,
        start_bitrate_bps=config.start_bitrate_bps,
    )


class LinkQuality:
    def __init__(self, config: SfuConfig, report: Callable[[QualityReport], None]) -> None:
        self._report = report
        self._selector = LayerSelector(policy_of(config))
        self._estimate = DownlinkEstimate()
        self.forced = False
        self.max_layer: int | None = None
        self.loss = 0.0
        self.rtt_ms: float | None = None
        self.budget_bps: int | None = None
        self._sent_bytes: dict[int, int] = {}
        self._last_evaluation: float | None = None
        self._reported: dict[str, tuple[int | None, bool]] = {}
        self._videos: list[Consumer] = []

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
        elapsed = None if self._last_evaluation is None else now - self._last_evaluation
        self._last_evaluation = now
        sent = audio = 0.0
        sent_bytes: dict[int, int] = {}
        for consumer in consumers:
            sent_bytes[id(consumer)] = consumer.bytes_sent
            delta = consumer.bytes_sent - self._sent_bytes.get(id(consumer), consumer.bytes_sent)
            sent += delta
            if consumer.producer.kind == "audio":
                audio += delta
        self._sent_bytes = sent_bytes
        if not consumers:
            return
        losses = [c.fraction_lost for c in consumers if c.receiver_reports]
        self.loss = max(losses, default=0.0)
        rtts = [c.rtt_s for c in consumers if c.rtt_s is not None]
        self.rtt_ms = max(rtts) * 1000 if rtts else None
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
                sent * 8 / elapsed,
                audio * 8 / elapsed,
                settling=self._selector.settling(now),
            )
        self._decide(now, consumers)

    def prefer(
        self, consumers: Iterable[Consumer], audio_only: bool, max_layer: int | None
    ) -> None:
        """The user's choice: audio only, or a highest layer (None: no limit)."""
        raised = self.max_layer is not None and (max_layer is None or max_layer > self.max_layer)
        self.forced = audio_only
        self.max_layer = max_layer
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
        streams = [StreamLayers(c, c.producer.layer_bitrates(), self._cap(c)) for c in videos]
        resuming = self._selector.audio_only
        decision = self._selector.update(
            now,
            self.budget_bps,
            self.loss,
            streams,
            forced_audio_only=self.forced,
            limited_by_loss=self._estimate.limited_by_loss,
            cap_raised=cap_raised,
        )
        if decision.audio_only:
            for consumer in videos:
                consumer.pause()
        else:
            for consumer in videos:
                consumer.set_target_layer(decision.layers.get(consumer))
                consumer.resume()
            if resuming:
                # what was measured before the pause says little about the link now
                self._estimate.reset()
                self.budget_bps = None
        for publisher_id in sorted({c.producer.participant_id for c in videos}):
            state = (self._layer_of(publisher_id, videos), self.audio_only)
            if self._reported.get(publisher_id) != state:
                self._reported[publisher_id] = state
                self._report(self.current(publisher_id))

    def _cap(self, consumer: Consumer) -> int | None:
        top = len(consumer.producer.layer_bitrates()) - 1
        return None if self.max_layer is None else min(self.max_layer, top)

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
