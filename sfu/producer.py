"""A producer: one incoming media stream of a participant, fanned out to consumers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog

from sfu._datapath import LayerInlet, Track
from sfu.aiortc import ForwardingReceiver, RtcpReceiverInfo, log_forward_error
from sfu.keyframes import keyframe_detector
from sfu.layer_demand import LayerDemand
from sfu.layers import Layer, LayerSet
from sfu.rtp_view import RtpView
from sfu.simulcast_order import order_by_picture, vp8_picture_size
from sfu.stats import RoomCounters

if TYPE_CHECKING:
    from sfu.consumer import Consumer

log = structlog.get_logger(__name__)

# how long a simulcast producer's packets may take the Python path while the SFU waits
# for a keyframe of each layer to learn its size (a browser starts each with one)
SIMULCAST_SIZING_S = 5.0

RECEIVER_REPORT_INTERVAL_S = 1.0  # video: the publisher's estimate and RTT need it often
# a repair's keyframe (``request_keyframe``): sooner than the usual throttle, but one a
# round trip or so, however many packets the subscriber gave up on meanwhile
REPAIR_KEYFRAME_INTERVAL_S = 0.3
AUDIO_RECEIVER_REPORT_INTERVAL_S = 5.0  # audio: RFC 3550's recommended minimum, as mediasoup


class Producer:
    """Receives a publisher's RTP and hands each packet to every consumer.

    Upstream RTCP (throttled PLI, forwarded NACKs) leaves at once through the publish
    connection's native egress; receiver reports every second for video, every 5 s for
    audio, from an event-loop timer this producer owns (no task: a timer costs a
    fraction of a task's wake-up).
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
        rids: tuple[str, ...] = (),
        rid_extension_id: int = 0,
        repaired_rid_extension_id: int = 0,
        max_incoming_bitrate_bps: int = 0,
        speech_level: int = 127,
        suspend_unused_layers_after_s: float | None = None,
        on_send_layers: Callable[[Producer, dict[str, bool]], None] | None = None,
        on_send_audio: Callable[[Producer, int | None], None] | None = None,
    ) -> None:
        self.participant_id = participant_id
        self.source = source
        self.kind = kind
        self.mime_type = mime_type
        self.clock_rate = clock_rate
        self.receiver = receiver
        self.consumers: list[Consumer] = []
        # the consumers' native tracks, read by every layer's LayerInlet on each packet
        self._tracks: list[Track] = []
        self.layer_set = LayerSet(rids, rid_extension_id, counters.media, self._tracks)
        self._repaired_rid_extension_id = repaired_rid_extension_id
        self.layers: list[Layer] = self.layer_set.layers
        self._by_ssrc = self.layer_set.by_ssrc
        self._max_incoming_bitrate_bps = max_incoming_bitrate_bps
        self.is_keyframe = keyframe_detector(mime_type)
        self.keyframe_requests = 0
        self._counters = counters
        self._keyframe_interval_s = keyframe_interval_s
        self._report_timer: asyncio.TimerHandle | None = None
        self.upstream_dropped = 0  # RTCP for the publisher while its connection was down
        self._on_audio_level = on_audio_level
        self._speech_level = speech_level
        self._fast_ssrcs: set[int] = set()
        # dynacast: which encodings we ask the publisher to send (simulcast only)
        self._demand: LayerDemand | None = None
        if self.layer_set.simulcast and suspend_unused_layers_after_s is not None:
            self._demand = LayerDemand(len(self.layers), suspend_unused_layers_after_s)
        self._on_send_layers = on_send_layers
        # audio: the highest bitrate we ask the publisher to encode (None: its own choice)
        self.requested_audio_bps: int | None = None
        self._on_send_audio = on_send_audio
        # simulcast: each encoding's picture size from its first packet, until every
        # layer is known and the layers are ordered by it (``sfu.simulcast_order``)
        self._picture_sizes: dict[str, tuple[int, int]] | None = (
            {} if self.layer_set.simulcast and mime_type.lower() == "video/vp8" else None
        )
        self._sizing_until: float | None = None

    def start(self) -> None:
        self.receiver.sink = self
        for layer in self.layers:
            layer.inlet.on_error = log_forward_error
            if self._on_audio_level is not None:
                layer.inlet.on_level = partial(self._on_audio_level, self)
                layer.inlet.level_threshold = self._speech_level
        self._report_timer = asyncio.get_running_loop().call_later(
            self._report_interval_s, self._report
        )

    @property
    def _report_interval_s(self) -> float:
        if self.kind == "video":
            return RECEIVER_REPORT_INTERVAL_S
        return AUDIO_RECEIVER_REPORT_INTERVAL_S

    def add_consumer(self, consumer: Consumer) -> None:
        self.consumers.append(consumer)
        self._tracks.append(consumer.track)
        self.demand_changed()

    def remove_consumer(self, consumer: Consumer) -> None:
        if consumer in self.consumers:
            self.consumers.remove(consumer)
        if consumer.track in self._tracks:
            self._tracks.remove(consumer.track)
        self.demand_changed()
        self.audio_asks_changed()  # a subscriber that asked for less may be gone

    # --- dynacast ----------------------------------------------------------------
    def demand_changed(self) -> None:
        """A consumer's layers changed (or a consumer came or went): ask the publisher
        at once for a layer somebody now wants; stopping one waits (``LayerDemand``)."""
        demand = self._demand
        if demand is None:
            return
        wanted: set[int] = set()
        for consumer in self.consumers:
            if consumer.paused:
                continue
            wanted.add(consumer.target_layer)
            if consumer.current_layer is not None:
                wanted.add(consumer.current_layer)
        now = time.monotonic()
        flowed = [layer.last_flowing_bps > 0.0 for layer in self.layers]
        if not demand.update(now, wanted, flowed):
            return
        for layer, active in zip(self.layers, demand.active, strict=True):
            if active and layer.suspended:
                layer.resume(now)  # its encoder restarts on a keyframe
            elif not active and not layer.suspended:
                layer.suspend()
        requested = self.requested_layers()
        log.info(
            "sfu_send_layers",
            participant_id=self.participant_id,
            source=self.source,
            active=requested,
        )
        if self._on_send_layers is not None:
            self._on_send_layers(self, requested)

    def audio_asks_changed(self) -> None:
        """A consumer's ask for less audio changed (``sfu.audio_fit``), or a consumer
        left: ask the publisher for the lowest ask, or withdraw it."""
        if self.kind != "audio":
            return
        asks = [c.audio_ask_bps for c in self.consumers if c.audio_ask_bps is not None]
        ask = min(asks) if asks else None
        if ask == self.requested_audio_bps:
            return
        self.requested_audio_bps = ask
        log.info(
            "sfu_send_audio",
            participant_id=self.participant_id,
            source=self.source,
            max_bitrate=ask,
        )
        if self._on_send_audio is not None:
            self._on_send_audio(self, ask)

    def requested_layers(self) -> dict[str, bool]:
        """rid → whether we ask the publisher to send that encoding (empty: not simulcast,
        or dynacast off)."""
        if self._demand is None:
            return {}
        return {str(layer.rid): not layer.suspended for layer in self.layers}

    async def close(self) -> None:
        self._demand = None  # its consumers leave below: nothing more to ask the publisher
        self._on_send_audio = None
        self.receiver.sink = None
        self._leave_fast_path()
        for consumer in list(self.consumers):
            consumer.detach()
        self.consumers.clear()
        self._tracks.clear()
        if self._report_timer is not None:
            self._report_timer.cancel()
            self._report_timer = None

    # --- ingress ---------------------------------------------------------------
    # The hot path is native: once a layer's SSRC is known, the connection's C ingress
    # hands its packets to the layer's LayerInlet (statistics, audio level, every consumer's
    # track) without coming here. This sees a stream's first packets, RTX-repaired ones
    # and whatever arrived before the fast path was up.
    def on_rtp(self, packet: RtpView) -> None:
        layer = self._by_ssrc.get(packet.ssrc)
        if layer is None:
            layer = self.layer_set.learn(packet)
            if layer is None:
                return  # a simulcast SSRC not yet known by its rid
        if self._picture_sizes is not None:
            layer = self._size_layers(layer, packet)
        inlet = layer.inlet
        inlet.audio_level_id = self.receiver.audio_level_id  # known once negotiated
        if (
            self._picture_sizes is None
            and packet.ssrc not in self._fast_ssrcs
            and self.receiver.sink is self
        ):
            self._join_fast_path(packet.ssrc, inlet)
        inlet.deliver(packet.data, packet.arrival_ms)

    def _size_layers(self, layer: Layer, packet: RtpView) -> Layer:
        """Until every layer's picture size is known (a VP8 keyframe of each, asked for),
        the layers' packets come here rather than through the fast path; then the layers
        are numbered by size (``sfu.simulcast_order``). After ``SIMULCAST_SIZING_S``
        without them all, the SDP order stays. Returns the packet's layer, renumbered."""
        sizes = self._picture_sizes
        assert sizes is not None
        now = time.monotonic()
        if self._sizing_until is None:
            self._sizing_until = now + SIMULCAST_SIZING_S
        size = vp8_picture_size(packet.payload)
        if size is not None and layer.rid is not None:
            sizes[layer.rid] = size
        elif layer.rid not in sizes:
            self.request_keyframe(layer.index)  # throttled per layer
        rids = [str(x.rid) for x in self.layers]
        order = order_by_picture(rids, sizes)
        if order is None and now < self._sizing_until:
            return layer
        self._picture_sizes = None  # decided once, the fast path takes over
        if order is None:
            log.info("sfu_simulcast_unsized", participant=self.participant_id, rids=rids)
            return layer
        if self.layer_set.reorder(order):
            log.info(
                "sfu_simulcast_reordered",
                participant=self.participant_id,
                source=self.source,
                sdp_order=rids,
                order=order,
                sizes={rid: f"{w}x{h}" for rid, (w, h) in sizes.items()},
            )
            for consumer in self.consumers:
                if not consumer.paused and consumer.current_layer is not None:
                    consumer.pause()  # from the next keyframe of its renumbered layer
                    consumer.resume()
            self.demand_changed()
        return self._by_ssrc.get(packet.ssrc, layer)

    def _join_fast_path(self, ssrc: int, inlet: LayerInlet) -> None:
        fast_path = self.receiver.fast_path
        if fast_path is None:
            return
        for old in [s for s in self._fast_ssrcs if fast_path.inlets.get(s) is inlet]:
            fast_path.inlets.pop(old, None)  # the layer moved to a new SSRC
            self._fast_ssrcs.discard(old)
        fast_path.inlets[ssrc] = inlet
        self._fast_ssrcs.add(ssrc)

    def _leave_fast_path(self) -> None:
        fast_path = self.receiver.fast_path
        if fast_path is not None:
            for ssrc in self._fast_ssrcs:
                fast_path.inlets.pop(ssrc, None)
        self._fast_ssrcs.clear()

    @property
    def packets(self) -> int:
        return sum(layer.packets for layer in self.layers)

    def rtx_primary(self, packet: RtpView) -> int | None:
        """The SSRC a new RTX stream repairs, from its repaired-rtp-stream-id (RFC 8852)."""
        value = packet.extension(self._repaired_rid_extension_id)
        if not value:
            return None
        rid = value.decode("ascii", "replace")
        return next((x.ssrc for x in self.layers if x.rid == rid), None)

    def rtx_primary_ssrcs(self) -> dict[int, int]:
        """RTX SSRC → layer SSRC, as learnt so far (inspection)."""
        return self.receiver.rtx_streams()

    @property
    def ssrc(self) -> int | None:
        """The SSRC of the lowest layer that has one (plain streams: the only one)."""
        return next((layer.ssrc for layer in self.layers if layer.ssrc is not None), None)

    def layer_bitrates(self) -> list[float]:
        """Measured bitrate per layer, lowest first (0: not being received)."""
        return self.layer_set.bitrates()

    def on_sender_report(self, ssrc: int, ntp: int, rtp_timestamp: int) -> None:
        layer = self._by_ssrc.get(ssrc)
        if layer is not None:
            layer.sender_report = (ntp, rtp_timestamp, time.monotonic())

    # --- upstream feedback --------------------------------------------------------
    def request_keyframe(self, layer_index: int = 0, repair: bool = False) -> bool:
        """Queue a PLI for one layer unless one went out less than the interval ago
        (``REPAIR_KEYFRAME_INTERVAL_S`` for a ``repair``: a subscriber's picture stopped
        on a packet lost past its last resend, which no other keyframe will mend)."""
        if self.kind != "video" or not 0 <= layer_index < len(self.layers):
            return False
        layer = self.layers[layer_index]
        interval = self._keyframe_interval_s
        if repair:
            interval = min(interval, REPAIR_KEYFRAME_INTERVAL_S)
        if not layer.may_request_keyframe(time.monotonic(), interval):
            return False
        assert layer.ssrc is not None
        self.keyframe_requests += 1
        self._counters.keyframe_requests += 1
        self._queue(self.receiver.keyframe_request(layer.ssrc))
        return True

    def forward_nack(self, layer_index: int, sequence_numbers: list[int]) -> None:
        if not 0 <= layer_index < len(self.layers) or not sequence_numbers:
            return
        ssrc = self.layers[layer_index].ssrc
        if ssrc is None:
            return
        self._counters.nacks_forwarded += len(sequence_numbers)
        self._queue(self.receiver.nack(ssrc, sequence_numbers))

    def _queue(self, data: bytes) -> None:
        if not self.receiver.send_rtcp_now(data):
            self.upstream_dropped += 1  # not connected (yet, or any more): nobody to tell

    def _periodic_reports(self) -> bytes | None:
        """Receiver reports for every layer and, for video, a REMB (the publisher's ceiling)."""
        now = time.monotonic()
        self.layer_set.bitrates(now)
        blocks = []
        for layer in self.layers:
            reception = layer.reception()
            if reception is None:
                continue
            ssrc, fraction, lost, highest = reception
            lsr = dlsr = 0
            if layer.sender_report is not None:
                ntp, _, arrival = layer.sender_report
                lsr = (ntp >> 16) & 0xFFFFFFFF
                dlsr = int((now - arrival) * 65536)
            blocks.append(
                RtcpReceiverInfo(
                    ssrc=ssrc,
                    fraction_lost=fraction,
                    packets_lost=lost,
                    highest_sequence=highest,
                    jitter=0,
                    lsr=lsr,
                    dlsr=dlsr,
                )
            )
        if not blocks:
            return None
        data = self.receiver.receiver_report(blocks)
        if self.layer_set.simulcast and self._max_incoming_bitrate_bps:
            # the ceiling of the browser's estimate decides which layers it sends; a
            # plain stream is left alone (aiortc publishers take a REMB as their target)
            ssrcs = [layer.ssrc for layer in self.layers if layer.ssrc is not None]
            data += self.receiver.remb(self._max_incoming_bitrate_bps, ssrcs)
        return data

    def _report(self) -> None:
        """Every interval: receiver reports (and the REMB ceiling) to the publisher."""
        self._report_timer = asyncio.get_running_loop().call_later(
            self._report_interval_s, self._report
        )
        report = self._periodic_reports()
        if report is not None:
            self._queue(report)
        if self._demand is not None:
            now = time.monotonic()
            for layer in self.layers:
                layer.check_resumed(now)
            self.demand_changed()  # layers unwanted long enough are stopped now

    def dump(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "mime_type": self.mime_type,
            "ssrc": self.ssrc,
            "layers": [layer.dump() for layer in self.layers],
            "packets": self.packets,
            "consumers": len(self.consumers),
            "keyframe_requests": self.keyframe_requests,
            "requested_layers": self.requested_layers(),
        }
