"""A producer: one incoming media stream of a participant, fanned out to consumers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

from sfu.aiortc_adapter import ForwardingReceiver, RtcpReceiverInfo, RtpView
from sfu.keyframes import keyframe_detector
from sfu.stats import RoomCounters

if TYPE_CHECKING:
    from sfu.consumer import Consumer

log = structlog.get_logger(__name__)

UPSTREAM_QUEUE_SIZE = 64
RECEIVER_REPORT_INTERVAL_S = 1.0


class Producer:
    """Receives a publisher's RTP and hands each packet to every consumer.

    Upstream RTCP (throttled PLI, forwarded NACKs, receiver reports) goes through a
    bounded queue drained by this producer's own task.
    """

    def __init__(
        self,
        participant_id: str,
        source: str,
        kind: str,
        mime_type: str,
        clock_rate: int,
        receiver: ForwardingReceiver,
        counters: RoomCounters,
        keyframe_interval_s: float,
        on_audio_level: Callable[[Producer, int], None] | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.source = source
        self.kind = kind
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.receiver = receiver
        self.consumers: list[Consumer] = []
        self.ssrc: int | None = None
        self.sender_report: tuple[int, int, float] | None = None  # ntp, rtp ts, arrival
        self.is_keyframe = keyframe_detector(mime_type)
        self.keyframe_requests = 0
        self._counters = counters
        self._keyframe_interval_s = keyframe_interval_s
        self._last_keyframe_request = -1e9
        self._upstream: asyncio.Queue[bytes] = asyncio.Queue(UPSTREAM_QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self._on_audio_level = on_audio_level
        # receive statistics for our receiver reports
        self._base_seq: int | None = None
        self._max_seq = 0
        self._cycles = 0
        self._received = 0
        self._expected_prior = 0
        self._received_prior = 0
        self.packets = 0

    def start(self) -> None:
        self.receiver.sink = self
        self._task = asyncio.create_task(self._run_upstream(), name=f"producer-{self.source}")

    async def close(self) -> None:
        self.receiver.sink = None
        for consumer in list(self.consumers):
            consumer.detach()
        self.consumers.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    # --- ingress (hot path) -------------------------------------------------------
    def on_rtp(self, packet: RtpView) -> None:
        """Hot path: called from the UDP callback; never awaits, never copies the packet."""
        counters = self._counters
        counters.packets_in += 1
        counters.bytes_in += len(packet.data)
        self.packets += 1
        seq = packet.sequence_number
        if self.ssrc != packet.ssrc:
            self.ssrc = packet.ssrc
            self._base_seq = seq
            self._max_seq = seq
            self._cycles = 0
            self._received = 0
        self._received += 1
        if 0 < ((seq - self._max_seq) & 0xFFFF) < 0x8000:
            if seq < self._max_seq:
                self._cycles += 0x10000
            self._max_seq = seq
        audio_level = None
        level_id = self.receiver.audio_level_id  # known once negotiation completes
        if level_id:
            audio_level = packet.extension(level_id)
            if audio_level and self._on_audio_level is not None:
                self._on_audio_level(self, audio_level[0] & 0x7F)
        for consumer in self.consumers:
            consumer.forward(packet, audio_level)

    def on_sender_report(self, ssrc: int, ntp: int, rtp_timestamp: int) -> None:
        if ssrc == self.ssrc or self.ssrc is None:
            self.sender_report = (ntp, rtp_timestamp, time.monotonic())

    # --- upstream feedback --------------------------------------------------------
    def request_keyframe(self) -> bool:
        """Queue a PLI to the publisher unless one went out less than the interval ago."""
        if self.kind != "video" or self.ssrc is None:
            return False
        now = time.monotonic()
        if now - self._last_keyframe_request < self._keyframe_interval_s:
            return False
        self._last_keyframe_request = now
        self.keyframe_requests += 1
        self._counters.keyframe_requests += 1
        self._queue(self.receiver.keyframe_request(self.ssrc))
        return True

    def forward_nack(self, sequence_numbers: list[int]) -> None:
        if self.ssrc is None or not sequence_numbers:
            return
        self._counters.nacks_forwarded += len(sequence_numbers)
        self._queue(self.receiver.nack(self.ssrc, sequence_numbers))

    def _queue(self, data: bytes) -> None:
        try:
            self._upstream.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("sfu_upstream_rtcp_dropped", source=self.source)

    def _receiver_report(self) -> bytes | None:
        if self.ssrc is None or self._base_seq is None:
            return None
        extended_max = self._cycles + self._max_seq
        expected = extended_max - self._base_seq + 1
        lost = max(0, expected - self._received)
        expected_interval = expected - self._expected_prior
        received_interval = self._received - self._received_prior
        self._expected_prior = expected
        self._received_prior = self._received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        lsr = dlsr = 0
        if self.sender_report is not None:
            ntp, _, arrival = self.sender_report
            lsr = (ntp >> 16) & 0xFFFFFFFF
            dlsr = int((time.monotonic() - arrival) * 65536)
        info = RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=fraction,
            packets_lost=min(lost, 0x7FFFFF),
            highest_sequence=extended_max & 0xFFFFFFFF,
            jitter=0,
            lsr=lsr,
            dlsr=dlsr,
        )
        return self.receiver.receiver_report([info])

    async def _run_upstream(self) -> None:
        next_report = time.monotonic() + RECEIVER_REPORT_INTERVAL_S
        while True:
            timeout = max(0.0, next_report - time.monotonic())
            try:
                data = await asyncio.wait_for(self._upstream.get(), timeout)
            except TimeoutError:
                next_report = time.monotonic() + RECEIVER_REPORT_INTERVAL_S
                report = self._receiver_report()
                if report is None:
                    continue
                data = report
            await self.receiver.send_rtcp(data)

    def dump(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "ssrc": self.ssrc,
            "packets": self.packets,
            "consumers": len(self.consumers),
            "keyframe_requests": self.keyframe_requests,
        }
