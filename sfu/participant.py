"""A participant: its publish peer connection (producers) and subscribe one (consumers).

The room that creates a participant hands it a ``ParticipantOwner`` to tell what
happens (a producer came or went, a new subscribe offer is due, a quality report, a
connection that failed) and to ask for the room's producers; the participant never
imports the room.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable
from typing import Any, Protocol

import structlog

from sfu import malformed_datagrams
from sfu.aiortc import (
    ForwardingPeerConnection,
    ForwardingReceiver,
    ForwardingSender,
    codec_capabilities_for,
    codecs_of,
    ice_servers_for,
    install_impairment,
    remote_sends,
    restrict_codecs,
    rewrite_candidate_addresses,
)
from sfu.codec_policy import (
    BASELINE,
    UNSUPPORTED_REASON,
    decodable,
    is_video,
    normalise,
    offered_video_codecs,
)
from sfu.config import SfuConfig
from sfu.connection_watch import ConnectionWatch
from sfu.consumer import Consumer
from sfu.impairment import Impairment
from sfu.models import QualityReport, SubscriptionOffer, TrackInfo
from sfu.producer import Producer
from sfu.quality import LinkAdaptation
from sfu.sdp_sections import bundling_problem, ice_ufrags, rejected_mids
from sfu.simulcast_sdp import SimulcastOffer, answer_with_simulcast, parse_simulcast_offer
from sfu.spare_lines import SpareLines, continue_numbering
from sfu.stats import RoomCounters, SfuCounters
from sfu.transport_cc_sdp import (
    answer_with_transport_cc,
    offer_with_audio_transport_cc,
    transport_cc_id,
    transport_cc_offer,
)
from sfu.transport_feedback import interval_for

log = structlog.get_logger(__name__)

DEFAULT_SOURCES = {"audio": "mic", "video": "camera"}
# RTCP intervals as mediasoup's transports use them: every second while video flows
# (lip sync, round-trip time, layer decisions), every 5 s for audio alone (RFC 3550's
# recommended minimum; the link is still evaluated on each receiver report).
# twice a second: each sender report the subscriber echoes is a round trip, and a round
# trip grown by a queue is the link's first word that it is full (sfu/quality.py)
SENDER_REPORT_INTERVAL_S = 0.5
AUDIO_SENDER_REPORT_INTERVAL_S = 5.0
# what a participant's downlink carries besides video: one voice (Opus on the wire)
AUDIO_DOWNLINK_BPS = 50_000
PC_NAMES = ("publish", "subscribe")
ANSWER_REFUSED = "answer-refused"


class ParticipantOwner(Protocol):
    """What a participant tells, and asks of, the room that created it."""

    def producers(self) -> Iterable[Producer]: ...
    def video_codecs(self, publisher: Participant) -> list[str]: ...
    def producer_added(self, producer: Producer) -> None: ...
    def producer_removed(self, producer: Producer) -> None: ...
    def subscription_changed(self, participant: Participant) -> None: ...
    def quality_changed(self, participant: Participant, report: QualityReport) -> None: ...
    def connection_failed(
        self, participant: Participant, pc_name: str, code: str, reason: str
    ) -> None: ...
    def on_audio_level(self, producer: Producer, level: int) -> None: ...
    def on_send_layers(self, producer: Producer, layers: dict[str, bool]) -> None: ...
    def on_send_audio(self, producer: Producer, max_bitrate_bps: int | None) -> None: ...


class Participant:
    """One endpoint in a room. Media always flows publish PC → SFU → subscribe PC."""

    def __init__(
        self,
        participant_id: str,
        app_data: dict[str, Any],
        *,
        owner: ParticipantOwner,
        room_id: str,
        config: SfuConfig,
        room_counters: RoomCounters,
        sfu_counters: SfuCounters,
        speech_level: int,
    ) -> None:
        self.id = participant_id
        self.room_id = room_id
        self.config = config
        self._owner = owner
        self._room_counters = room_counters
        self._sfu_counters = sfu_counters
        self._speech_level = speech_level
        self.app_data = dict(app_data)
        self.producers: dict[str, Producer] = {}
        self.consumers: dict[tuple[str, str], Consumer] = {}
        self.video_cap_mode = "auto"
        self.max_layer: int | None = None
        self.closed = False
        self._publish_pc: ForwardingPeerConnection | None = None
        self._subscribe_pc: ForwardingPeerConnection | None = None
        self._transceiver_of: dict[tuple[str, str], Any] = {}
        self._offer_outstanding = False
        self._subscription_dirty = False
        self._publish_lock = asyncio.Lock()
        self._subscribe_lock = asyncio.Lock()
        # the subscriber's feedback is looked at soon after it arrives (link adaptation) and its
        # sender reports leave every second: event-loop timers this participant owns
        self._feedback_timer: asyncio.Handle | None = None
        self._report_timer: asyncio.TimerHandle | None = None
        self._reported_at = -1e9  # when the last sender reports left
        self.link = LinkAdaptation(config, self._emit_quality)
        self._impairment: Impairment | None = None
        self._simulcast: dict[str, SimulcastOffer] = {}
        self._watches: dict[str, ConnectionWatch] = {}  # by PC name: why it did not work
        # video codecs: declared decodable (None: not said), listed by our publish offers
        self._declared_codecs: frozenset[str] | None = None
        self._offered_codecs: frozenset[str] = frozenset()
        # producers not consumed because we cannot decode their codec (key → codec)
        self.undecodable: dict[tuple[str, str], str] = {}
        self._spares = SpareLines()  # inactive subscribe m-lines, reused first
        self._restart_next_offer = False  # the next offer is on a fresh connection
        self._offer_id = 0  # the last subscribe offer's number
        # the client's ICE ufrags of subscribe connections closed by a restart: an answer
        # still carrying one answers an offer of the old connection, and is refused
        self._closed_ufrags: deque[str] = deque(maxlen=8)

    # --- peer connections ---------------------------------------------------------
    def _new_pc(self, pc_name: str) -> ForwardingPeerConnection:
        config = self.config
        port_range = None
        if config.udp_port_min is not None and config.udp_port_max is not None:
            port_range = (config.udp_port_min, config.udp_port_max)

        def malformed(addr: Any, error: Exception) -> None:
            self._sfu_counters.malformed_datagrams += 1
            malformed_datagrams.report(
                addr, error, room=self.room_id, participant=self.id, pc=pc_name
            )

        pc = ForwardingPeerConnection(
            ice_servers=ice_servers_for(config.ice_servers),
            ice_addresses=config.ice_addresses,
            port_range=port_range,
            allowed_remote_networks=config.allowed_remote_networks,
            on_malformed_datagram=malformed,
        )
        self._forget_watch(pc_name)
        self._watches[pc_name] = ConnectionWatch(
            pc, lambda code, reason: self._connection_failed(pc_name, code, reason)
        )
        return pc

    # --- failures -----------------------------------------------------------------
    def _failure(self, pc_name: str, code: str, reason: str) -> None:
        """One log line and the process counter for a connection that does not work."""
        self._sfu_counters.failed(code)
        log.warning(
            "sfu_connection_failed",
            room=self.room_id,
            participant=self.id,
            pc=pc_name,
            code=code,
            reason=reason,
        )

    def _connection_failed(self, pc_name: str, code: str, reason: str) -> None:
        """ICE, DTLS or every candidate failed: logged, counted, and told to the room
        (signalling sends the client an ``error`` it can act on: restart, TURN)."""
        self._failure(pc_name, code, reason)
        if not self.closed:
            self._owner.connection_failed(self, pc_name, code, reason)

    def _watch(self, pc_name: str) -> ConnectionWatch | None:
        return self._watches.get(pc_name)

    def _forget_watch(self, pc_name: str) -> None:
        watch = self._watches.pop(pc_name, None)
        if watch is not None:
            watch.close()

    def _local_sdp(self, pc: ForwardingPeerConnection) -> str:
        assert pc.localDescription is not None
        return rewrite_candidate_addresses(pc.localDescription.sdp, self.config.announced_address)

    # --- publishing ---------------------------------------------------------------
    async def publish(self, offer_sdp: str, sources: dict[str, str] | None = None) -> str:
        """Answer the client's publish offer (we only receive); returns the answer SDP."""
        self._check_open()
        if not isinstance(offer_sdp, str) or not offer_sdp.strip().startswith("v=0"):
            raise ValueError("not an SDP offer")
        sources = dict(sources or {})
        problem = bundling_problem(offer_sdp)
        if problem is not None:
            raise ValueError(problem)
        simulcast = parse_simulcast_offer(offer_sdp)  # ValueError when unusable
        transport_cc = transport_cc_offer(offer_sdp)
        async with self._publish_lock:
            if self._publish_pc is None:
                self._publish_pc = self._new_pc("publish")
            pc = self._publish_pc
            try:
                await pc.set_remote_description(offer_sdp, "offer")
                decoders = self.video_decoders()
                self._offered_codecs = offered_video_codecs(offer_sdp) or self._offered_codecs
                if self.video_decoders() != decoders:
                    self.want_new_subscription()  # streams it could not decode may now go
                self._ask_for_room_codecs(pc)
                await pc.setLocalDescription(await pc.createAnswer())
            except ValueError:
                raise
            except Exception as exc:
                raise ValueError(str(exc) or type(exc).__name__) from exc
            self._ice_started("publish")
            self._simulcast = simulcast
            await self._sync_producers(pc, sources)
            answer = answer_with_simulcast(self._local_sdp(pc), simulcast)
            extension_id = transport_cc_id(transport_cc)
            if extension_id and pc.fast_path is not None:
                pc.fast_path.enable_transport_cc(extension_id)
                chosen = {mid: i for mid, i in transport_cc.items() if i == extension_id}
                answer = answer_with_transport_cc(answer, chosen)
            return answer

    def _ask_for_room_codecs(self, pc: ForwardingPeerConnection) -> None:
        """Each video m-line's answer lists the room's codecs only (``sfu.codec_policy``),
        a producer's own codec first so that renegotiating never switches it."""
        room_codecs = self._owner.video_codecs(self)
        current = {id(p.receiver): p.mime_type for p in self.producers.values()}
        for transceiver in pc.getTransceivers():
            if transceiver.kind != "video" or not remote_sends(transceiver):
                continue
            mime = current.get(id(transceiver.receiver))
            restrict_codecs(transceiver, [mime, *room_codecs] if mime else room_codecs)

    def set_receive_codecs(self, mime_types: Iterable[str] | None) -> None:
        """The video codecs this participant can decode (``video/VP8``…), as it declared
        them; None: unknown (what its publish offers list is used, else VP8 alone)."""
        self._declared_codecs = None if mime_types is None else normalise(mime_types)
        self.want_new_subscription()

    def video_decoders(self) -> frozenset[str]:
        """The video codecs we may send this participant (always VP8)."""
        return decodable(self._declared_codecs, self._offered_codecs)

    async def _sync_producers(self, pc: ForwardingPeerConnection, sources: dict[str, str]) -> None:
        wanted: dict[str, Any] = {}
        for transceiver in pc.getTransceivers():
            if transceiver.mid is None or not remote_sends(transceiver):
                continue
            source = sources.get(transceiver.mid) or self._default_source(transceiver.kind, wanted)
            wanted[source] = transceiver
        for source in [s for s in self.producers if s not in wanted]:
            await self._remove_producer(source)
        for source, transceiver in wanted.items():
            existing = self.producers.get(source)
            receiver = transceiver.receiver
            if existing is not None and existing.receiver is receiver:
                continue  # renegotiation keeps a producer and its layers as they were
            if existing is not None:
                await self._remove_producer(source)
            codecs = codecs_of(transceiver)
            if not codecs or not isinstance(receiver, ForwardingReceiver):
                continue
            simulcast = self._simulcast.get(str(transceiver.mid))
            producer = Producer(
                participant_id=self.id,
                source=source,
                kind=transceiver.kind,
                mime_type=codecs[0].mimeType,
                clock_rate=codecs[0].clockRate,
                receiver=receiver,
                counters=self._room_counters,
                keyframe_interval_s=self.config.keyframe_request_min_interval_s,
                on_audio_level=self._owner.on_audio_level,
                speech_level=self._speech_level,
                rids=simulcast.rids if simulcast else (),
                rid_extension_id=simulcast.rid_extension_id if simulcast else 0,
                repaired_rid_extension_id=simulcast.repaired_rid_extension_id if simulcast else 0,
                max_incoming_bitrate_bps=self.config.max_incoming_bitrate_bps,
                suspend_unused_layers_after_s=self.config.suspend_unused_layers_after_s,
                on_send_layers=self._owner.on_send_layers,
                on_send_audio=self._owner.on_send_audio,
            )
            producer.start()
            self.producers[source] = producer
            self._owner.producer_added(producer)

    def _default_source(self, kind: str, taken: dict[str, Any]) -> str:
        base = DEFAULT_SOURCES.get(kind, kind)
        if base not in taken:
            return base
        return "screen" if kind == "video" and "screen" not in taken else f"{base}-{len(taken)}"

    async def unpublish(self, source: str) -> None:
        """Stop forwarding one source (KeyError if it is not published)."""
        if source not in self.producers:
            raise KeyError(source)
        await self._remove_producer(source)

    async def _remove_producer(self, source: str) -> None:
        producer = self.producers.pop(source, None)
        if producer is None:
            return
        await producer.close()
        self._owner.producer_removed(producer)

    # --- subscribing --------------------------------------------------------------
    def want_new_subscription(self) -> None:
        """Something to subscribe to changed: ask for an offer unless one is pending."""
        if self.closed:
            return
        self._subscription_dirty = True
        if not self._offer_outstanding:
            self._owner.subscription_changed(self)

    async def subscription_offer(self) -> SubscriptionOffer | None:
        """A new subscribe offer, or None when nothing changed or one is outstanding."""
        self._check_open()
        async with self._subscribe_lock:
            if self._offer_outstanding:
                return None
            self._subscription_dirty = False
            changed = await self._sync_consumers()
            if not changed or not self.consumers:
                # nothing to receive: the m-lines retired stay so, and the next offer
                # (when a stream comes) says it; an offer of nothing is never sent
                return None
            pc = self._subscribe_pc
            assert pc is not None
            await pc.setLocalDescription(await pc.createOffer())
            self._offer_outstanding = True
            tracks = []
            for key, consumer in self.consumers.items():
                transceiver = self._transceiver_of[key]
                consumer.mid = transceiver.mid
                tracks.append(
                    TrackInfo(
                        mid=str(transceiver.mid),
                        participant_id=consumer.producer.participant_id,
                        source=consumer.producer.source,
                        kind=consumer.producer.kind,
                    )
                )
            restart, self._restart_next_offer = self._restart_next_offer, False
            self._offer_id += 1
            return SubscriptionOffer(
                sdp=offer_with_audio_transport_cc(self._local_sdp(pc)),
                tracks=tracks,
                restart=restart,
                offer_id=self._offer_id,
            )

    async def _sync_consumers(self) -> bool:
        decoders = self.video_decoders()
        wanted: dict[tuple[str, str], Producer] = {}
        undecodable: dict[tuple[str, str], str] = {}
        for producer in self._owner.producers():
            if producer.participant_id == self.id:
                continue
            key = (producer.participant_id, producer.source)
            if is_video(producer.mime_type) and producer.mime_type.lower() not in decoders:
                undecodable[key] = producer.mime_type
            else:
                wanted[key] = producer
        newly_undecodable = [k for k in undecodable if k not in self.undecodable]
        self.undecodable = undecodable
        changed = False
        for key in [
            k
            for k in self.consumers
            if k not in wanted or wanted[k] is not self.consumers[k].producer
        ]:
            self._retire_consumer(key)
            changed = True
        for key, producer in wanted.items():
            if key in self.consumers:
                continue
            if self._subscribe_pc is None:
                self._subscribe_pc = self._new_pc("subscribe")
                self._start_reports()
            transceiver, previous = self._m_line_for(key, producer)
            sender = transceiver.sender
            assert isinstance(sender, ForwardingSender)
            consumer = Consumer(
                producer,
                self.id,
                sender,
                self._room_counters,
                self.config.packet_history_size,
                self._on_feedback,
            )
            if previous is not None:
                continue_numbering(consumer, previous)
            if self.link.audio_only and producer.kind == "video":
                consumer.pause()
            producer.add_consumer(consumer)
            self.consumers[key] = consumer
            self._transceiver_of[key] = transceiver
            changed = True
        if changed:
            self.link.place(self.consumers.values())
        for key in newly_undecodable:
            self._sfu_counters.streams_not_decodable += 1
            self._emit_quality(
                QualityReport(
                    publisher_id=key[0],
                    layer=None,
                    audio_only=True,
                    reason=UNSUPPORTED_REASON,
                    estimate_bps=0,
                    loss=0.0,
                    rtt_ms=None,
                )
            )
            log.info(
                "sfu_stream_not_decodable",
                room=self.room_id,
                participant=self.id,
                publisher=key[0],
                source=key[1],
                codec=undecodable[key],
            )
        return changed

    def _m_line_for(self, key: tuple[str, str], producer: Producer) -> tuple[Any, Consumer | None]:
        """An m-line for a new consumer: a spare one (``sfu.spare_lines``), else a new one."""
        spare = self._spares.take(key, producer.kind, producer.mime_type)
        if spare is not None:
            return spare
        pc = self._subscribe_pc
        assert pc is not None
        transceiver = pc.addTransceiver(producer.kind, direction="sendonly")
        preferences = codec_capabilities_for(producer.kind, producer.mime_type)
        if preferences:
            transceiver.setCodecPreferences(preferences)
        return transceiver, None

    def _retire_consumer(self, key: tuple[str, str]) -> None:
        consumer = self.consumers.pop(key, None)
        transceiver = self._transceiver_of.pop(key, None)
        if consumer is not None:
            consumer.detach()
        if transceiver is not None:
            transceiver.direction = "inactive"
            if consumer is not None:
                self._spares.keep(transceiver, key, consumer)

    def producer_gone(self, producer: Producer) -> None:
        key = (producer.participant_id, producer.source)
        consumer = self.consumers.get(key)
        if consumer is not None and consumer.producer is producer:
            consumer.detach()
            self.want_new_subscription()

    async def subscription_answer(self, answer_sdp: str, offer_id: int | None = None) -> None:
        """Apply the client's answer; a refused one (ValueError) is logged and counted.

        ``offer_id`` (the offer's ``offer_id``, when the client names it) refuses an
        answer to an older offer — after quick restarts, answers cross new offers."""
        self._check_open()
        if offer_id is not None and offer_id != self._offer_id:
            raise ValueError(
                f"this answers offer {offer_id}, the outstanding offer is {self._offer_id}"
            )
        try:
            learned = await self._learn_from_rejection(answer_sdp)
            if learned:
                self.want_new_subscription()  # a fresh connection, marked restart
                raise ValueError(
                    f"the answer rejects {', '.join(sorted(learned))}: not offered to you any "
                    "more; answer the offer marked restart on a new connection"
                )
            await self._apply_subscription_answer(answer_sdp)
        except ValueError as exc:
            self._failure("subscribe", ANSWER_REFUSED, str(exc) or "unusable answer")
            raise
        for consumer in self.consumers.values():
            consumer.producer.request_keyframe(consumer.target_layer)
        if self._subscription_dirty:
            self._owner.subscription_changed(self)

    async def _learn_from_rejection(self, answer_sdp: object) -> set[str]:
        """An answer rejecting a video m-section (port 0, as Firefox does for a codec it
        lacks; when it is the BUNDLE tag the whole connection would fail) says its codec
        is not decoded here: that codec is no longer offered to this participant and the
        subscribe connection starts over. Returns the codecs learned (none: nothing to
        do; a client answering nonsense again is not looped on)."""
        if not isinstance(answer_sdp, str) or not self._offer_outstanding:
            return set()
        codec_of = {c.mid: c.producer.mime_type.lower() for c in self.consumers.values()}
        refused = {codec_of[mid] for mid in rejected_mids(answer_sdp) if mid in codec_of}
        decoders = self.video_decoders()
        learned = {mime for mime in refused if is_video(mime) and mime in decoders}
        learned.discard(BASELINE)
        if not learned:
            return learned
        self._declared_codecs = decoders - learned
        async with self._subscribe_lock:
            await self._close_subscribe()
            self._restart_next_offer = True
        return learned

    async def _apply_subscription_answer(self, answer_sdp: str) -> None:
        if not isinstance(answer_sdp, str) or not answer_sdp.strip().startswith("v=0"):
            raise ValueError("not an SDP answer")
        problem = bundling_problem(answer_sdp)
        if problem is not None:
            raise ValueError(problem)
        if set(ice_ufrags(answer_sdp)) & set(self._closed_ufrags):
            raise ValueError(
                "this answer is to an offer of the subscribe connection a restart closed; "
                "answer the offer marked restart on a new connection"
            )
        async with self._subscribe_lock:
            pc = self._subscribe_pc
            if pc is None or not self._offer_outstanding:
                raise ValueError("no subscribe offer is outstanding")
            try:
                await pc.set_remote_description(answer_sdp, "answer")
            except ValueError:
                raise
            except Exception as exc:
                raise ValueError(str(exc) or type(exc).__name__) from exc
            self._offer_outstanding = False
            self._ice_started("subscribe")
            numbered = transport_cc_offer(answer_sdp)  # mid → id, where it was accepted
            for consumer in self.consumers.values():
                consumer.number_transport_wide(numbered.get(consumer.mid or "", 0))

    async def add_remote_candidate(self, pc_name: str, candidate: dict[str, Any] | None) -> None:
        """Trickle ICE; candidates outside ``allowed_remote_networks`` are ignored."""
        self._check_open()
        pc = self._pc(pc_name)
        if not candidate or not candidate.get("candidate"):
            watch = self._watch(pc_name)
            if watch is not None:
                watch.candidates_known()  # end of candidates: were any usable?
            return
        try:
            await pc.add_remote_candidate(candidate)
        except (ValueError, IndexError, TypeError) as exc:
            raise ValueError(f"unreadable candidate: {exc}") from exc

    def _ice_started(self, pc_name: str) -> None:
        """Both descriptions are set. A description whose candidates were all refused
        says so at once: a client that puts candidates in its SDP has gathered them
        (the web pages do not trickle; Chrome writes no ``a=end-of-candidates``)."""
        watch = self._watch(pc_name)
        if watch is None:
            return
        watch.ice_started()
        watch.candidates_known()

    def _pc(self, pc_name: str) -> ForwardingPeerConnection:
        if pc_name not in PC_NAMES:
            raise ValueError(f"pc must be one of {PC_NAMES}")
        pc = self._publish_pc if pc_name == "publish" else self._subscribe_pc
        if pc is None:
            raise ValueError(f"no {pc_name} connection yet")
        return pc

    async def restart_ice(self, pc_name: str) -> SubscriptionOffer | None:
        """Start over with a fresh connection (aiortc cannot restart ICE in place).

        ``publish``: producers end; the client sends a new publish offer. Returns None.
        ``subscribe``: returns a new subscribe offer carrying every current track.
        """
        self._check_open()
        if pc_name not in PC_NAMES:
            raise ValueError(f"pc must be one of {PC_NAMES}")
        if pc_name == "publish":
            async with self._publish_lock:
                for source in list(self.producers):
                    await self._remove_producer(source)
                self._forget_watch("publish")
                if self._publish_pc is not None:
                    await self._publish_pc.close()
                    self._publish_pc = None
            return None
        async with self._subscribe_lock:
            await self._close_subscribe()
            # whichever offer comes next is on the fresh connection, even one the
            # session's own offer loop makes first (this then returns None)
            self._restart_next_offer = True
        return await self.subscription_offer()

    # --- the user's video cap and the link's quality reports --------------------
    def set_video_cap(self, mode: str = "auto", max_layer: int | None = None) -> None:
        """The user's cap on the video it receives (the ``set-quality`` frame): audio
        only, or no layer above ``max_layer``; the link's adaptation stays under it."""
        if mode not in ("auto", "audio-only"):
            raise ValueError("mode must be 'auto' or 'audio-only'")
        if max_layer is not None and max_layer not in (0, 1, 2):
            raise ValueError("max_layer must be 0, 1, 2 or None")
        self.video_cap_mode = mode
        self.max_layer = max_layer
        self.link.prefer(self.consumers.values(), mode == "audio-only", max_layer)

    def set_wanted_layer(self, publisher_id: str, max_layer: int | None) -> None:
        """The layer this subscriber's tile of ``publisher_id`` needs (its size on the
        page): a thumbnail gets a low layer, a pinned or large picture the top one."""
        if max_layer is not None and max_layer not in (0, 1, 2):
            raise ValueError("max_layer must be 0, 1, 2 or None")
        self.link.want(self.consumers.values(), publisher_id, max_layer)

    def _emit_quality(self, report: QualityReport) -> None:
        self._owner.quality_changed(self, report)

    def set_test_impairment(self, loss: float = 0.0, rate_bps: int | None = None) -> None:
        """Test only: drop or rate-cap what the SFU sends to this participant."""
        if not self.config.allow_test_impairment:
            raise RuntimeError("impairment needs SfuConfig(allow_test_impairment=True)")
        if self._impairment is None:
            if self._subscribe_pc is None:
                raise ValueError("no subscribe connection yet")
            self._impairment = Impairment()
            install_impairment(self._subscribe_pc, self._impairment)
        self._impairment.configure(loss=loss, rate_bps=rate_bps)

    # --- RTCP towards the subscriber ---------------------------------------------
    def _start_reports(self) -> None:
        if self._report_timer is None:
            self._report_timer = asyncio.get_running_loop().call_later(
                SENDER_REPORT_INTERVAL_S, self._report
            )

    def _on_feedback(self) -> None:
        """A consumer heard from the subscriber (a receiver report, lost packets)."""
        if self._feedback_timer is None and not self.closed:
            self._feedback_timer = asyncio.get_running_loop().call_soon(self._look_at_feedback)

    def _look_at_feedback(self) -> None:
        """Evaluate the link when due; with fresh feedback not due yet, come back then."""
        self._feedback_timer = None
        consumers = list(self.consumers.values())
        now = time.monotonic()
        if self.link.due(now, consumers):
            self.link.evaluate(consumers)
        elif any(c.fresh_feedback for c in consumers):
            self._feedback_timer = asyncio.get_running_loop().call_later(
                self.link.next_due(now), self._look_at_feedback
            )

    def _report(self) -> None:
        """Every interval: the link evaluated (if due) and one compound RTCP packet with a
        sender report per consumer (one protection and one datagram for all of them).

        With no video flowing (audio alone, or video paused for the link) the reports go
        at the audio cadence, the link still evaluated every interval: on a link that
        audio alone nearly fills (60 kb/s) two reports a second were 5 % of it, and the
        queue video had left behind drained that much slower."""
        consumers = list(self.consumers.values())
        video = any(c.producer.kind == "video" for c in consumers)
        self._report_timer = asyncio.get_running_loop().call_later(
            SENDER_REPORT_INTERVAL_S if video else AUDIO_SENDER_REPORT_INTERVAL_S, self._report
        )
        now = time.monotonic()
        if self.link.due(now, consumers):
            self.link.evaluate(consumers)
        self._pace_publish_feedback()
        flowing = any(c.producer.kind == "video" and not c.paused for c in consumers)
        if not flowing and now - self._reported_at < AUDIO_SENDER_REPORT_INTERVAL_S:
            return
        reports = [r for r in (c.sender_report() for c in consumers) if r is not None]
        if reports:  # every consumer sends on the one (bundled) subscribe connection
            consumers[0].sender.send_rtcp_now(b"".join(reports))
            self._reported_at = now

    def _pace_publish_feedback(self) -> None:
        """Our transport-wide feedback to this participant's browser shares its downlink:
        at most 5 % of what that link is estimated to carry (``interval_for``)."""
        pc = self._publish_pc
        feedback = pc.fast_path.transport_feedback if pc and pc.fast_path else None
        if feedback is None:
            return
        link = self.link
        budget = None if link.forced else link.budget_bps
        downlink = None if budget is None else budget + AUDIO_DOWNLINK_BPS
        feedback.interval_s = interval_for(downlink)

    def _stop_reports(self) -> None:
        for timer in (self._feedback_timer, self._report_timer):
            if timer is not None:
                timer.cancel()
        self._feedback_timer = self._report_timer = None

    # --- lifecycle ----------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"participant {self.id} has left")

    async def _close_subscribe(self) -> None:
        for key in list(self.consumers):
            self._retire_consumer(key)
        self._transceiver_of.clear()
        self._spares.clear()
        self._offer_outstanding = False
        self._stop_reports()
        self._forget_watch("subscribe")
        if self._subscribe_pc is not None:
            remote = self._subscribe_pc.remoteDescription
            if remote is not None:
                self._closed_ufrags.extend(ice_ufrags(remote.sdp))
            await self._subscribe_pc.close()
            self._subscribe_pc = None
        self._impairment = None

    async def close(self) -> None:
        """Close both connections, producers and consumers; awaits every task."""
        if self.closed:
            return
        self.closed = True
        for source in list(self.producers):
            await self._remove_producer(source)
        await self._close_subscribe()
        self._forget_watch("publish")
        if self._publish_pc is not None:
            await self._publish_pc.close()
            self._publish_pc = None

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "app_data": self.app_data,
            "video_cap_mode": self.video_cap_mode,
            "max_layer": self.max_layer,
            "wanted_layers": dict(self.link.wanted),
            "producers": [p.dump() for p in self.producers.values()],
            "consumers": [c.dump() for c in self.consumers.values()],
            "offer_outstanding": self._offer_outstanding,
            "audio_only": self.link.audio_only,
            "link_reason": self.link.reason,
        }
