"""A consumer: one producer's stream as one subscriber receives it.

It rewrites SSRC, sequence number and timestamp so the subscriber sees one continuous
stream across pauses and restarts, keeps a packet history to serve NACKs, and builds
sender reports by mapping the publisher's NTP/RTP pair through the same rewrite.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from sfu._datapath import Egress, Track
from sfu.aiortc import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    MID_URI,
    ForwardingSender,
    RtcpReceiverInfo,
)
from sfu.arrival_delay import ArrivalDelay
from sfu.layers import Layer
from sfu.pacing import Pacer
from sfu.padding import PADDING_PRIORITY, padding_packet
from sfu.rtp_view import RtpView
from sfu.stats import RoomCounters
from sfu.vp8_descriptor import KEY_IDX_MASK, PICTURE_ID_MASK, TL0_PIC_IDX_MASK

NTP_UNITS_PER_S = 1 << 32
MAX_PENDING_RETRANSMISSIONS = 128
MAX_HELD_PACKETS = 64
RETRANSMIT_MIN_INTERVAL_S = 0.1
DELIVERY_SPAN_S = 1.0
MAX_RESENDS = 3  # 5 % random loss loses all three resends of a packet once in 8 000
# NACKs of numbers sent before a resume are stale for this many packets after it (a
# half-range past, the numbers would wrap back towards the mark)
STALE_SPAN = 0x4000
# a receiver report "describes the current layer" once this share of the packets it
# covers were sent after the last switch (the rest went out while it travelled to us)
POST_SWITCH_SHARE = 0.8
# a packet's place in its egress batch (highest first): audio leaves before the video
# queued in the same wake-up, so a keyframe burst never pushes it out of a full queue
AUDIO_PRIORITY = 1
VIDEO_PRIORITY = 0


class ConsumedProducer(Protocol):
    """What a consumer reads of, and asks of, the producer it forwards (a ``Producer``).

    The producer keeps its consumers and hands them its packets; a consumer reaches it
    only through this: the producer module knows the consumer, never the reverse.
    """

    @property
    def participant_id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def mime_type(self) -> str: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def layers(self) -> list[Layer]: ...
    @property
    def is_keyframe(self) -> Callable[[bytes], bool] | None: ...  # None: a codec we cannot read

    def layer_bitrates(self) -> list[float]: ...
    def request_keyframe(self, layer_index: int = 0, repair: bool = False) -> bool: ...
    def forward_nack(self, layer_index: int, sequence_numbers: list[int]) -> None: ...
    def demand_changed(self) -> None: ...
    def audio_asks_changed(self) -> None: ...
    def remove_consumer(self, consumer: Consumer) -> None: ...


class Consumer:
    """Forwards one producer to one subscriber.

    The steady state — same layer, no pause, no rebase, no switch waiting — runs in C
    on every packet (``Track``: rewrite, history, send); this class makes every
    decision around it and keeps the state it shares with C in the track.
    """

    def __init__(
        self,
        producer: ConsumedProducer,
        subscriber_id: str,
        sender: ForwardingSender,
        counters: RoomCounters,
        history_size: int,
        on_feedback: Callable[[], None],
    ) -> None:
        self.producer = producer
        self.subscriber_id = subscriber_id
        self.sender = sender
        self.mid: str | None = None
        egress = sender.fast_path.egress if sender.fast_path is not None else Egress()
        self.track = Track(egress, counters.media, sender.ssrc, history_size)
        self.track.priority = AUDIO_PRIORITY if producer.kind == "audio" else VIDEO_PRIORITY
        self.track.forward = self.forward  # every packet that needs a decision
        self.nacks = 0
        # packets we sent that the subscriber reported missing, each counted once: its
        # loss before retransmission (receiver reports count retransmitted packets as
        # received, so a link that loses a third of our packets can report none)
        self.packets_nacked = 0
        # packets NACKed again after we resent them: lost twice, loss the repair did not
        # hide (5 % random loss repaired by RTX gives about 0.25 %; a full queue, far more)
        self.packets_renacked = 0
        self._counters = counters
        self._history_size = history_size
        self._needs_rebase = True
        # the layer forwarded now (None: waiting for a keyframe) and the one wanted
        self.current_layer = None if producer.kind == "video" else 0
        self.target_layer = 0
        self._cutting_old = False
        self._held_packets: list[RtpView] | None = None
        # a step down on a full link sends the new layer's keyframe at this rate, and
        # what follows it until it has caught up (``sfu.pacing``), once the queue on the
        # way has had this long to drain; None: at once
        self._switch_pace_bps: float | None = None
        self._switch_hold_s = 0.0
        self.pacer = Pacer(self._emit, self._hand_to_python)
        self._held = None  # the target's keyframe, waiting to switch
        self.track.last_out_seq = random.randint(0, 0xFFFF)
        self.track.last_out_ts = random.randint(0, 0xFFFFFFFF)
        # VP8 pictures are renumbered like sequence numbers (sfu/vp8_descriptor.py)
        self.track.vp8 = int(producer.mime_type.lower() == "video/vp8")
        self.track.picture_id_out = random.randint(0, PICTURE_ID_MASK)
        self.track.tl0_pic_idx_out = random.randint(0, TL0_PIC_IDX_MASK)
        self.track.key_idx_out = random.randint(0, KEY_IDX_MASK)
        self.rtx_seq = random.randint(0, 0xFFFF)  # the last number on the RTX stream
        self._sent_reports: dict[int, float] = {}
        self._pending_rtx: list[bytes] = []
        self._resent_at: dict[int, float] = {}
        self._resend_count: dict[int, int] = {}
        self._resume_gap = 0
        self._on_feedback = on_feedback  # the subscriber's link is to be looked at
        # what the subscriber tells us
        self.fraction_lost = 0.0
        self.rtt_s: float | None = None
        self.rtt_samples = 0  # round trips measured: one per sender report echoed
        self._rtt_lsr = 0
        self.remb_bps: int | None = None
        self.remb_at = 0.0
        self.receiver_reports = 0
        # (sequence numbers the receiver's highest moved, packets we sent) over about
        # the last DELIVERY_SPAN_S of its reports; None until that long has passed
        self.delivery: tuple[int, int] | None = None
        self._highest_marks: deque[tuple[float, int, int]] = deque(maxlen=64)
        self.fresh_feedback = False  # a video receiver report or loss not yet looked at
        # the transport-wide number's extension id toward this subscriber (0: none; only
        # audio is numbered, ``sfu.arrival_delay`` says why) and what its feedback shows
        self.transport_cc_id = 0
        self.arrivals = ArrivalDelay(self.track.egress.sent_at)
        # audio: the bitrate this subscriber's link asks of the publisher (None: any;
        # ``sfu.audio_fit``); the producer follows the lowest ask of its consumers
        self.audio_ask_bps: int | None = None
        self._report_marks = (0, 0)  # packets_sent when the previous and last RR came
        self._switch_mark = 0  # packets_sent when the current layer began
        self._first_seq_of_layer = 0  # NACKs of packets before it are not about this link now
        self._resumed = False  # the next switch starts the picture again after a pause
        self._stale_before: int | None = None  # NACKs of numbers before it: not served
        self.switched_at = 0.0
        self.attached = True
        sender.sink = self

    # --- state shared with the native track ---------------------------------------
    @property
    def paused(self) -> bool:
        return bool(self.track.paused)

    @paused.setter
    def paused(self, value: bool) -> None:
        self.track.paused = int(value)

    @property
    def current_layer(self) -> int | None:
        layer = self.track.current_layer
        return None if layer < 0 else int(layer)

    @current_layer.setter
    def current_layer(self, value: int | None) -> None:
        self.track.current_layer = -1 if value is None else value

    @property
    def target_layer(self) -> int:
        return int(self.track.target_layer)

    @target_layer.setter
    def target_layer(self, value: int) -> None:
        self.track.target_layer = value

    @property
    def _needs_rebase(self) -> bool:
        return bool(self.track.needs_rebase)

    @_needs_rebase.setter
    def _needs_rebase(self, value: bool) -> None:
        self.track.needs_rebase = int(value)

    @property
    def _held(self) -> list[RtpView] | None:
        return self._held_packets

    @_held.setter
    def _held(self, value: list[RtpView] | None) -> None:
        self._held_packets = value
        self._hand_to_python()

    @property
    def _cutting(self) -> bool:
        """The current layer stops before the target's keyframe comes (its packets go
        to ``forward``, which drops them)."""
        return self._cutting_old

    @_cutting.setter
    def _cutting(self, value: bool) -> None:
        self._cutting_old = value
        self._hand_to_python()

    def _hand_to_python(self) -> None:
        """The native track forwards the current layer itself unless held, cut or paced."""
        self.track.holding = int(
            self._held_packets is not None or self._cutting_old or self.pacer.active
        )

    @property
    def _frame_open(self) -> bool:
        """The last packet on its way to the subscriber did not end its frame."""
        return self.pacer.frame_open if self.pacer.active else bool(self.track.frame_open)

    @property
    def packets_sent(self) -> int:
        return int(self.track.packets_sent)

    @property
    def bytes_sent(self) -> int:
        return int(self.track.bytes_sent)

    def detach(self) -> None:
        """The producer is gone: stop forwarding (the m-line is retired by its owner)."""
        self.attached = False
        self.sender.sink = None
        self.track.forward = None
        self.pacer.drop()
        self.producer.remove_consumer(self)

    def pause(self) -> None:
        if not self.paused:
            self.paused = True
            self.current_layer = None
            self._held = None
            self.pacer.drop()  # nothing of it will be shown
            # a cut's pacing was for that step (its layer's rate, the queue then): the
            # resume's keyframe, on a link that has changed since, goes at once
            self._switch_pace_bps = None
            self.delivery = None
            self.producer.demand_changed()

    def resume(self) -> None:
        """Resume from the next keyframe, continuing our sequence and timestamps.

        The keyframe starts the picture afresh, so what was sent before the pause is
        stale: its NACKs are neither served nor asked upstream (mediasoup clears its
        history on a pause). Old frames resent beside the keyframe left Chrome's decoder
        waiting 3 s for another one in a run in three (bench.link, 60 kb/s cap lifted).
        The numbers go on from the last one sent, past one left out only when the pause
        cut a frame short, so that frame is visibly incomplete.
        """
        if self.paused:
            self.paused = False
            self._resume_gap = 1 if self.track.frame_open else 0
            self._resumed = True
            self.producer.demand_changed()
            self.producer.request_keyframe(self.target_layer)

    def set_target_layer(
        self,
        layer: int | None,
        link_full: bool = False,
        pace_bps: float | None = None,
        hold_s: float = 0.0,
    ) -> None:
        """Switch to ``layer`` on its next keyframe (None: keep the current choice).

        Until it comes the current layer goes on, so the picture never stops; but a
        step down on a full link (``link_full``) stops it at once: its packets only
        keep the queue full, and the new layer's keyframe, sent into that queue, was
        lost (a 300 kb/s cap froze the picture until another came). That keyframe then
        leaves at ``pace_bps`` (under what the link carries) after ``hold_s`` (the queue
        the old layer left), not at once; and the old layer's packets lost in that
        queue are not resent (the keyframe makes them useless, and their resends took
        the room it needed)."""
        if layer is None or layer == self.target_layer:
            return
        self.target_layer = layer
        self._held = None
        current = self.current_layer
        was_cutting = self._cutting
        self._cutting = link_full and current is not None and layer < current
        self._switch_pace_bps = pace_bps if self._cutting else None
        self._switch_hold_s = hold_s
        if was_cutting and not self._cutting and current is not None and layer == current:
            # back to the layer it stopped: what it dropped meanwhile is a hole only a
            # keyframe fills
            self._resume_gap = 1
            self._needs_rebase = True
            self.producer.request_keyframe(current)
        if not self.paused:
            self.producer.demand_changed()  # a stopped layer is asked for at once
            if layer != self.current_layer:
                self.producer.request_keyframe(layer)

    # --- egress: packets that need a decision (the rest never leave C) -------------
    def forward(self, packet: RtpView, layer: int, audio_level: bytes | None = None) -> None:
        """Rewrite one packet of ``layer`` for this subscriber and send it, deciding first
        what the native path cannot: a rebase, a layer switch, the first packet."""
        if layer != self.current_layer:
            self._other_layer(packet, layer)
            return
        if self._cutting:
            return
        sender = self.sender
        payload_type = sender.payload_type
        if payload_type is None:
            return
        if self._needs_rebase:
            self._rebase(packet)
        if not self.track.configured:
            self._configure(payload_type)
        if self.pacer.active:
            self.pacer.push(packet, audio_level)
        else:
            self._emit(packet, audio_level)
        if self._held is not None and packet.marker:
            self._switch(self.target_layer)  # the old layer's frame is whole: switch now

    def _emit(self, packet: RtpView, audio_level: bytes | None) -> None:
        self.track.emit(packet.data, audio_level, time.monotonic())

    def _configure(self, payload_type: int) -> None:
        sender = self.sender
        ids = sender.extension_ids
        self.track.configure(
            payload_type,
            (sender.mid or "").encode(),
            ids.get(MID_URI, 0),
            ids.get(ABS_SEND_TIME_URI, 0),
            ids.get(AUDIO_LEVEL_URI, 0),
            self.transport_cc_id,
        )

    def number_transport_wide(self, extension_id: int) -> None:
        """The subscriber's answer accepted transport-wide numbers on this audio's m-line
        under ``extension_id`` (0: not, or no longer): its packets carry them from now."""
        if self.producer.kind != "audio" or extension_id == self.transport_cc_id:
            return
        self.transport_cc_id = extension_id
        payload_type = self.sender.payload_type
        if self.track.configured and payload_type is not None:
            self._configure(payload_type)

    def _other_layer(self, packet: RtpView, layer: int) -> None:
        """A packet of a layer we do not forward: only the target's keyframe switches,
        at its first packet, received as the newest of its layer.

        The switch waits for the end of the frame in flight on the old layer (a frame
        cut short would look whole to a receiver that trusts sequence numbers): the new
        layer's packets are held until then, a bounded number of them.
        """
        if layer != self.target_layer or self.paused:
            return
        held = self._held
        if held is not None:
            held.append(packet)
            if len(held) >= MAX_HELD_PACKETS:  # the old layer stalled mid-frame
                self._resume_gap = 1  # leave a hole: its last frame is visibly incomplete
                self._switch(layer)
            return
        detector = self.producer.is_keyframe
        if detector is not None and not detector(packet.payload):
            self.producer.request_keyframe(layer)
            return
        if packet.sequence_number != self.producer.layers[layer].max_seq:
            # an old keyframe's packet sent again (RTX: a repair, or a browser's probe
            # padded with media): switching there would skip every packet since
            return
        self._held = [packet]
        if self._cutting and self._frame_open:
            self._resume_gap = 1  # the old layer's frame in flight stays incomplete
        if self.current_layer is None or not self._frame_open or self._cutting:
            self._switch(layer)

    def _switch(self, layer: int) -> None:
        pace_bps, self._switch_pace_bps = self._switch_pace_bps, None
        if self.pacer.active:
            self.pacer.flush()  # the old layer's last packets go before the new one's
        self._cutting = False
        held, self._held = self._held or [], None
        if self.current_layer is not None:
            self._counters.layer_switches += 1
        self.current_layer = layer
        self._switch_mark = self.packets_sent
        self._first_seq_of_layer = (self.track.last_out_seq + 1) & 0xFFFF
        if self._resumed or pace_bps is not None:
            # after a pause, or a cut on a full link, the keyframe starts the picture
            # again: what was sent before it is not worth the link's room
            self._resumed = False
            self._stale_before = (self._first_seq_of_layer + self._resume_gap) & 0xFFFF
        self.switched_at = time.monotonic()
        self._needs_rebase = True
        if pace_bps is not None:
            self.pacer.start(pace_bps, self._switch_hold_s)
            self._hand_to_python()
        for packet in held:
            self.forward(packet, layer)

    def _rebase(self, packet: RtpView) -> None:
        """Choose offsets so this packet follows the last one we sent: sequence number,
        timestamp (advanced by the time elapsed, at least one tick) and, for VP8, the
        picture numbering (a switch's keyframe is last sent + 1)."""
        track = self.track
        self._needs_rebase = False
        elapsed = 0.0
        last_send_time = track.last_send_time
        if last_send_time is not None:
            elapsed = time.monotonic() - last_send_time
        advance = max(1, int(elapsed * self.producer.clock_rate))
        gap, self._resume_gap = self._resume_gap, 0
        track.seq_offset = (track.last_out_seq + 1 + gap - packet.sequence_number) & 0xFFFF
        track.ts_offset = (track.last_out_ts + advance - packet.timestamp) & 0xFFFFFFFF
        # this packet's PictureID, TL0PICIDX and KEYIDX continue ours by one
        track.picture_id_in = track.tl0_pic_idx_in = track.key_idx_in = -1

    # --- subscriber feedback (SenderSink) ----------------------------------------
    def on_keyframe_request(self) -> None:
        layer = self.current_layer
        self.producer.request_keyframe(self.target_layer if layer is None else layer)

    def on_nack(self, sequence_numbers: list[int]) -> None:
        self.nacks += len(sequence_numbers)
        self._counters.nacks_received += len(sequence_numbers)
        if self.paused and self.producer.kind == "video":
            # a paused video is not repaired (mediasoup ignores NACKs of an inactive
            # consumer): its frames will not be shown, and the resends would take the
            # link that could not carry it from the audio
            return
        upstream: list[int] = []
        given_up = False
        now = time.monotonic()
        # a receiver repeats every missing number in each NACK: resend a packet at most
        # once a round trip, or retransmissions flood the very link that lost them
        spacing = max(RETRANSMIT_MIN_INTERVAL_S, self.rtt_s or 0.0)
        resent = self._resent_at
        counts = self._resend_count
        stale_before = self._stale_before
        if (
            stale_before is not None
            and STALE_SPAN <= (self.track.last_out_seq - stale_before) & 0xFFFF < 0x8000
        ):
            # long past: numbers wrap towards it (just before it: nothing sent since, a
            # paced keyframe still held)
            stale_before = self._stale_before = None
        for seq in sequence_numbers:
            if stale_before is not None and (seq - stale_before) & 0xFFFF >= 0x8000:
                continue  # sent before the last pause: neither resent nor asked upstream
            if now - resent.get(seq, -1e9) < spacing:
                continue
            first = seq not in resent
            resent[seq] = now
            sent = self.track.history(seq)
            if sent is not None:
                if (seq - self._first_seq_of_layer) & 0xFFFF < 0x8000:
                    # we sent it, on the layer we send now, and it did not arrive: lost on
                    # the downlink (after a pause the receiver still asks for older ones)
                    if first:
                        self.packets_nacked += 1
                    elif counts.get(seq, 0) == 1:
                        # NACKed again after its one resend: counted once, however many
                        # more times the browser asks (up to ten, past MAX_RESENDS)
                        self.packets_renacked += 1
                    self.fresh_feedback = self.producer.kind == "video"
                    self._on_feedback()
                # a browser asks up to ten times; a packet lost MAX_RESENDS times is in
                # a full queue, which more copies of it only keep full
                count = counts.get(seq, 0)
                if count < MAX_RESENDS:
                    counts[seq] = count + 1
                    if len(self._pending_rtx) < MAX_PENDING_RETRANSMISSIONS:
                        self._pending_rtx.append(sent)
                elif (seq - self._first_seq_of_layer) & 0xFFFF < 0x8000:
                    given_up = True
            else:
                upstream.append((seq - self.track.seq_offset) & 0xFFFF)
        while len(resent) > self._history_size:
            del resent[next(iter(resent))]
        while len(counts) > self._history_size:
            del counts[next(iter(counts))]
        if upstream and self.current_layer is not None:
            self.producer.forward_nack(self.current_layer, upstream)
        if given_up and self.current_layer is not None and self.producer.kind == "video":
            # still asked for after its last copy: the receiver's picture cannot go on
            # without it (Chrome waits 3 s before asking for a keyframe itself; a new
            # layer's keyframe lost thrice under a 300 kb/s cap froze the picture that
            # long): a fresh keyframe ends the wait, asked for sooner than the usual
            # throttle allows (that keyframe was the one asked for at the switch)
            self.producer.request_keyframe(self.current_layer, repair=True)
        self.flush_retransmissions()  # at once: the subscriber is waiting for them

    def on_receiver_report(self, report: RtcpReceiverInfo) -> None:
        self.receiver_reports += 1
        self.fraction_lost = report.fraction_lost / 256.0
        # how far the receiver's highest sequence number moved against what we sent
        # since a report at least DELIVERY_SPAN_S before: a link that lets no video
        # through (a full queue taken by the audio) shows neither loss nor NACKs, only
        # this standing still. Over a shorter span a keyframe still draining through a
        # small link's queue would look the same
        highest = report.highest_sequence & 0xFFFF
        now = time.monotonic()
        marks = self._highest_marks
        if self.paused:
            marks.clear()
        else:
            base = None
            while marks and now - marks[0][0] >= DELIVERY_SPAN_S:
                base = marks.popleft()
            if base is not None:
                marks.appendleft(base)  # the newest report old enough stays the base
                moved = (highest - base[1]) & 0xFFFF
                self.delivery = (0 if moved >= 0x8000 else moved, self.packets_sent - base[2])
            marks.append((now, highest, self.packets_sent))
        self._report_marks = (self._report_marks[1], self.packets_sent)
        if self.producer.kind == "video":
            # the link is looked at again soon (this may end a layer switch's settling);
            # with audio alone there is nothing to adapt: the periodic report evaluates
            self.fresh_feedback = True
            self._on_feedback()
        self._counters.packets_lost_reported = max(
            self._counters.packets_lost_reported, report.packets_lost
        )
        sent_at = self._sent_reports.get(report.lsr)
        if sent_at is not None and report.lsr:
            self.rtt_s = max(0.0, time.monotonic() - sent_at - report.dlsr / 65536)
            if report.lsr != self._rtt_lsr:  # later reports echoing it measure it again
                self._rtt_lsr = report.lsr
                self.rtt_samples += 1

    def reported_since_switch(self) -> bool:
        """Whether the subscriber's last receiver report is mostly about the layer sent
        now (a report's loss covers the packets sent since its previous one)."""
        if self.paused or self.current_layer is None or self.current_layer != self.target_layer:
            return False
        previous, latest = self._report_marks
        covered = latest - previous
        return covered > 0 and latest - self._switch_mark >= POST_SWITCH_SHARE * covered

    def on_remb(self, bitrate_bps: int) -> None:
        self.remb_bps = bitrate_bps
        self.remb_at = time.monotonic()

    def on_transport_feedback(self, feedback: bytes) -> None:
        """The subscriber's transport-wide feedback (it names the SSRC of the newest
        packet it got: any of its audio consumers): the queue our packets met."""
        if self.arrivals.on_feedback(feedback, time.monotonic()) is not None:
            self.fresh_feedback = True
            self._on_feedback()

    def send_padding(self, count: int) -> int:
        """``count`` padding-only packets on this video's RTX stream, numbered after its
        retransmissions (the media stream's numbers are untouched) and stamped with
        abs-send-time: a bandwidth probe the subscriber's estimator counts. Returns how
        many left (0 without RTX: padding never goes on audio or a media stream)."""
        sender = self.sender
        if sender.rtx_payload_type is None or self.producer.kind != "video":
            return 0
        ids = sender.extension_ids
        mid = (sender.mid or "").encode()
        sent = 0
        for _ in range(count):
            self.rtx_seq = (self.rtx_seq + 1) & 0xFFFF
            packet = padding_packet(
                sender.rtx_payload_type,
                self.rtx_seq,
                self.track.last_out_ts,
                sender.rtx_ssrc,
                time.monotonic(),
                ids.get(ABS_SEND_TIME_URI, 0),
                ids.get(MID_URI, 0),
                mid,
            )
            if not self.track.egress.send(packet, PADDING_PRIORITY):
                break
            sent += 1
        return sent

    # --- retransmissions and reports -------------------------------------------
    def flush_retransmissions(self) -> None:
        pending = self._pending_rtx
        if not pending:
            return
        self._pending_rtx = []
        sender = self.sender
        for data in pending:
            if sender.rtx_payload_type is not None:
                sequence_number = (self.rtx_seq + 1) & 0xFFFF
                data = sender.rtx_packet(data, sequence_number)
                self.rtx_seq = sequence_number
            if self.track.egress.send(data, self.track.priority):  # its stream's order
                self._counters.nacks_served += 1

    def sender_report(self) -> bytes | None:
        """SR for what we forwarded: the publisher's NTP/RTP pair through our rewrite."""
        layer = self.current_layer
        if layer is None or self.track.last_send_time is None or self.paused:
            return None
        report = self.producer.layers[layer].sender_report
        if report is None:
            return None
        ntp, rtp_ts, arrival = report
        elapsed = time.monotonic() - arrival
        ntp_now = ntp + int(elapsed * NTP_UNITS_PER_S)
        rtp_now = rtp_ts + int(elapsed * self.producer.clock_rate) + self.track.ts_offset
        lsr = (ntp_now >> 16) & 0xFFFFFFFF
        self._sent_reports[lsr] = time.monotonic()
        if len(self._sent_reports) > 8:
            self._sent_reports.pop(next(iter(self._sent_reports)))
        return self.sender.sender_report(ntp_now, rtp_now, self.packets_sent, self.bytes_sent)

    def dump(self) -> dict[str, Any]:
        return {
            "publisher_id": self.producer.participant_id,
            "source": self.producer.source,
            "kind": self.producer.kind,
            "mid": self.mid,
            "paused": self.paused,
            "layer": self.current_layer,
            "target_layer": self.target_layer,
            "packets_sent": self.packets_sent,
            "nacks": self.nacks,
            "fraction_lost": self.fraction_lost,
            "rtt_ms": None if self.rtt_s is None else self.rtt_s * 1000,
            "remb_bps": self.remb_bps,
            "transport_cc_id": self.transport_cc_id,
            "transport_feedbacks": self.arrivals.feedbacks,
            "queue_ms": None if self.arrivals.queue_s is None else self.arrivals.queue_s * 1000,
            "lost_in_feedback": self.arrivals.lost,
        }
