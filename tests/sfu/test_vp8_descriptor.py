"""VP8 pictures are renumbered per consumer, so a layer switch is no jump to a receiver.

Each simulcast layer carries its own PictureID and TL0PICIDX sequences; Chrome refuses
a frame whose numbers jump. The native track renumbers them (``_datapath.c``) by the
rule ``sfu/vp8_descriptor.py`` states in Python: both are fed the same packets here, and
a consumer switching layers is checked to send one continuous numbering.
"""

from __future__ import annotations

import itertools
import random
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sfu._datapath import Counters, Egress, LayerInlet, Track, aead_srtp
from sfu.consumer import Consumer
from sfu.keyframes import is_vp8_keyframe
from sfu.rtp_view import RtpView
from sfu.stats import RoomCounters
from sfu.vp8_descriptor import Vp8Numbering, parse, rewrite
from tests.sfu.test_pacing import Timers

PAYLOAD_TYPE = 96


def descriptor(
    picture_id: int | None = None,
    bits: int = 15,
    tl0: int | None = None,
    tid: int | None = None,
    key_idx: int | None = None,
    start: bool = True,
) -> bytes:
    """A payload descriptor as a publisher writes it."""
    first = 0x10 if start else 0x00
    if picture_id is None and tl0 is None and tid is None and key_idx is None:
        return bytes([first])
    extension = (
        (0x80 if picture_id is not None else 0)
        | (0x40 if tl0 is not None else 0)
        | (0x20 if tid is not None else 0)
        | (0x10 if key_idx is not None else 0)
    )
    out = bytearray((0x80 | first, extension))
    if picture_id is not None:
        out += (
            bytes((0x80 | picture_id >> 8, picture_id & 0xFF))
            if bits == 15
            else bytes([picture_id & 0x7F])
        )
    if tl0 is not None:
        out.append(tl0)
    if tid is not None or key_idx is not None:
        out.append(((tid or 0) << 6) | 0x20 | (key_idx or 0))  # Y set
    return bytes(out)


def rtp(seq: int, timestamp: int, payload: bytes, marker: int = 0, padding: int = 0) -> bytes:
    first = 0x80 | (0x20 if padding else 0)
    header = struct.pack("!BBHII", first, (marker << 7) | PAYLOAD_TYPE, seq, timestamp, 0x1234)
    pad = bytes(padding - 1) + bytes([padding]) if padding else b""
    return header + payload + pad


def vp8_track(history: int = 1024) -> Track:
    track = Track(Egress(), Counters(), 0xBEEF, history)
    track.configure(PAYLOAD_TYPE, b"", 0, 0, 0)
    track.vp8 = 1
    return track


def sent_payload(track: Track, seq: int) -> bytes:
    data = track.history(seq)
    assert data is not None
    view = RtpView.parse(data)
    assert view is not None
    return view.payload


# --- the descriptor ----------------------------------------------------------------


def test_descriptor_fields_are_read_in_both_picture_id_widths() -> None:
    long = parse(descriptor(0x1234, 15, tl0=7, tid=2, key_idx=5) + b"\x00")
    assert long is not None
    assert (long.size, long.picture_id, long.picture_id_bits) == (6, 0x1234, 15)
    assert (long.tl0_pic_idx, long.key_idx, long.tid_offset) == (7, 5, 5)
    short = parse(descriptor(0x55, 7, tl0=9) + b"\x00")
    assert short is not None
    assert (short.size, short.picture_id, short.picture_id_bits, short.key_idx) == (
        4,
        0x55,
        7,
        None,
    )
    assert parse(b"\x10\x9d") == parse(b"\x10") and parse(b"\x10").size == 1  # type: ignore[union-attr]
    for cut in (b"", b"\x90", b"\x90\x80", b"\x90\x80\x81", b"\x90\x40", b"\x90\x20"):
        assert parse(cut) is None  # a field its flags announce is missing


def test_a_seven_bit_picture_id_leaves_in_fifteen_bits_and_the_packet_grows_by_a_byte() -> None:
    track = vp8_track()
    track.picture_id_out = 500
    payload = descriptor(0x7F, 7, tl0=3) + b"\x9d\x01\x2a"
    track.emit(rtp(1, 90, payload, padding=4), None, 0.0)
    out = track.history(1)
    assert out is not None and len(out) == len(rtp(1, 90, payload, padding=4)) + 1
    view = RtpView.parse(out)
    assert view is not None and view.padding == 4
    sent = parse(view.payload)
    assert sent is not None and (sent.picture_id, sent.picture_id_bits) == (501, 15)
    assert view.payload[sent.size :] == b"\x9d\x01\x2a"
    track.emit(rtp(2, 180, descriptor(0x00, 7, tl0=4) + b"\x9d"), None, 0.0)  # 127 → 0: +1
    assert parse(sent_payload(track, 2)).picture_id == 502  # type: ignore[union-attr]


# --- C and Python agree --------------------------------------------------------------


@st.composite
def vp8_payloads(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=8))  # anything, malformed descriptors included
    bits = draw(st.sampled_from([7, 15]))
    payload = descriptor(
        draw(st.one_of(st.none(), st.integers(0, (1 << bits) - 1))),
        bits,
        draw(st.one_of(st.none(), st.integers(0, 255))),
        draw(st.one_of(st.none(), st.integers(0, 3))),
        draw(st.one_of(st.none(), st.integers(0, 31))),
        draw(st.booleans()),
    )
    return payload + draw(st.binary(max_size=6))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(vp8_payloads(), st.booleans(), st.integers(0, 3)), min_size=1, max_size=30),
    st.integers(0, 0x7FFF),
    st.integers(0, 255),
    st.integers(0, 31),
)
def test_the_native_renumbering_is_the_python_one(
    packets: list[tuple[bytes, bool, int]], picture_id: int, tl0: int, key_idx: int
) -> None:
    track = vp8_track(64)
    numbering = Vp8Numbering(picture_id_out=picture_id, tl0_pic_idx_out=tl0, key_idx_out=key_idx)
    track.picture_id_out, track.tl0_pic_idx_out, track.key_idx_out = picture_id, tl0, key_idx
    for seq, (payload, resync, padding) in enumerate(packets):
        if resync:  # a switch or resume
            numbering.resync()
            track.picture_id_in = track.tl0_pic_idx_in = track.key_idx_in = -1
        track.emit(rtp(seq, seq, payload, padding=padding), None, 0.0)
        assert sent_payload(track, seq) == rewrite(payload, numbering)
        assert (track.picture_id_in, track.picture_id_out) == (
            numbering.picture_id_in,
            numbering.picture_id_out,
        )
        assert (track.tl0_pic_idx_in, track.tl0_pic_idx_out) == (
            numbering.tl0_pic_idx_in,
            numbering.tl0_pic_idx_out,
        )
        assert (track.key_idx_in, track.key_idx_out) == (
            numbering.key_idx_in,
            numbering.key_idx_out,
        )


def test_a_track_of_another_codec_leaves_the_payload_alone() -> None:
    track = vp8_track()
    track.vp8 = 0
    payload = descriptor(5, 7, tl0=1) + b"\x9d"
    track.emit(rtp(1, 1, payload), None, 0.0)
    assert sent_payload(track, 1) == payload


# --- a consumer switching layers -----------------------------------------------------


@dataclass
class Publisher:
    """One simulcast layer as Chrome sends it: its own random numbering, three
    temporal layers (TID 0, 2, 1, 2 …), a keyframe when asked, two packets a frame."""

    bits: int
    picture_id: int
    tl0: int
    seq: int
    timestamp: int
    frame: int = 0
    keyframe_due: bool = True
    body: int = 20  # payload bytes a packet carries past its descriptor

    def next_frame(self) -> list[bytes]:
        keyframe, self.keyframe_due = self.keyframe_due, False
        if keyframe:
            self.frame = 0
        tid = (0, 2, 1, 2)[self.frame % 4]
        if tid == 0:
            self.tl0 = (self.tl0 + 1) & 0xFF
        self.picture_id = (self.picture_id + 1) % (1 << self.bits)
        self.timestamp = (self.timestamp + 3000) & 0xFFFFFFFF
        self.frame += 1
        packets = []
        for index in range(2):
            head = descriptor(self.picture_id, self.bits, self.tl0, tid, start=index == 0)
            body = (b"\x10" if keyframe else b"\x11") if index == 0 else b"\x00"
            packets.append(rtp(self.seq, self.timestamp, head + body + bytes(self.body), index))
            self.seq = (self.seq + 1) & 0xFFFF
        return packets


class Sender(SimpleNamespace):
    """What a consumer asks of its connection's sender, without a connection: the
    packets it resends are recorded (by their sequence number)."""

    def __init__(self) -> None:
        super().__init__(
            fast_path=None, ssrc=0xBEEF, sink=None, payload_type=PAYLOAD_TYPE,
            extension_ids={}, mid="1", rtx_payload_type=97, resent=[],
        )  # fmt: skip

    def rtx_packet(self, data: bytes, sequence_number: int) -> bytes:
        self.resent.append(struct.unpack("!H", data[2:4])[0])
        return data


class Layers(SimpleNamespace):
    """What a consumer asks of its producer: keyframe requests are recorded."""

    def __init__(self) -> None:
        super().__init__(
            kind="video", mime_type="video/VP8", clock_rate=90_000, participant_id="agent",
            is_keyframe=is_vp8_keyframe, keyframe_requests=[],
        )  # fmt: skip

    def request_keyframe(self, layer: int) -> bool:
        self.keyframe_requests.append(layer)
        return True

    def demand_changed(self) -> None:
        pass

    def audio_asks_changed(self) -> None:
        pass


def run_switches(
    bits: int, plan: Sequence[tuple[int, ...]]
) -> tuple[list[tuple[Any, ...]], Layers]:
    """Deliver three layers' frames to one consumer; ``plan`` is (frames, target layer
    [, the link is full]) steps. Returns every packet it sent as (seq, timestamp,
    picture_id, tl0, bits, tid)."""
    rng = random.Random(bits)
    layers = Layers()
    consumer = Consumer(layers, "citizen", Sender(), RoomCounters(), 4096, lambda: None)  # type: ignore[arg-type]
    publishers = [
        Publisher(bits, rng.randrange(1 << bits), rng.randrange(256), rng.randrange(65536),
                  rng.randrange(1 << 32))
        for _ in range(3)
    ]  # fmt: skip
    counters = Counters()
    inlets = [LayerInlet(counters, [consumer.track], layer) for layer in range(3)]
    for publisher, inlet in zip(publishers, inlets, strict=True):
        inlet.restart((publisher.seq - 1) & 0xFFFF)  # as a layer's first packet does
    layers.layers = inlets  # what the consumer reads of a layer: its newest sequence number
    first_seq = (consumer.track.last_out_seq + 1) & 0xFFFF
    for frames, target, *full in plan:
        consumer.set_target_layer(target, link_full=bool(full and full[0]))
        for number in range(frames):
            for layer, (publisher, inlet) in enumerate(zip(publishers, inlets, strict=True)):
                if layer in layers.keyframe_requests and number >= 3:  # answered a bit later
                    publisher.keyframe_due = True
                    layers.keyframe_requests = [x for x in layers.keyframe_requests if x != layer]
                for packet in publisher.next_frame():
                    inlet.deliver(packet, 0)
    sent = []
    seq = first_seq
    while (data := consumer.track.history(seq)) is not None:
        view = RtpView.parse(data)
        assert view is not None
        fields = parse(view.payload)
        assert fields is not None
        tid = view.payload[fields.tid_offset] >> 6
        sent.append(
            (view.sequence_number, view.timestamp, fields.picture_id, fields.tl0_pic_idx,
             fields.picture_id_bits, tid)
        )  # fmt: skip
        seq = (seq + 1) & 0xFFFF
    return sent, layers


@pytest.mark.parametrize("bits", [7, 15])
def test_a_consumer_switching_layers_sends_one_continuous_picture_numbering(bits: int) -> None:
    sent, _ = run_switches(bits, [(12, 0), (20, 2), (20, 0), (20, 1), (10, 1)])  # q→f→q→h
    assert len(sent) > 100
    assert all(s[4] == 15 for s in sent)  # every PictureID leaves in 15 bits
    pictures = [s for index, s in enumerate(sent) if index % 2 == 0]  # each frame's first
    assert all((a[0] + 1) & 0xFFFF == b[0] for a, b in itertools.pairwise(sent))  # seq
    for previous, picture in itertools.pairwise(pictures):
        assert picture[2] == (previous[2] + 1) & 0x7FFF, (previous, picture)
        assert (picture[1] - previous[1]) & 0xFFFFFFFF in range(1, 1 << 31)  # time goes on
        expected_tl0 = (previous[3] + 1) & 0xFF if picture[5] == 0 else previous[3]
        assert picture[3] == expected_tl0, (previous, picture)


def test_the_switch_waits_for_the_targets_keyframe_forwarding_the_current_layer() -> None:
    _, layers = run_switches(15, [(12, 0), (2, 2)])
    assert layers.keyframe_requests.count(2) >= 1  # asked for at once, not yet answered
    sent, _ = run_switches(15, [(12, 0), (2, 2)])
    assert len(sent) == 2 * (12 - 0) + 2 * 2  # q kept flowing while f's keyframe was awaited


def test_a_step_down_on_a_full_link_stops_the_current_layer_at_once() -> None:
    """Under a 300 kb/s cap the 640 px packets sent while the 320 px keyframe was awaited
    only kept the queue full, and that keyframe was lost in it: on a full link the step
    down stops the current layer at once, and the numbering still runs on unbroken."""
    up = [(12, 0), (12, 2)]  # q, then f from its keyframe (asked for, 3 frames later)
    calm, _ = run_switches(15, [*up, (6, 0)])
    sent, _ = run_switches(15, [*up, (6, 0, True)])
    # calm: f went on for the 3 frames until q's keyframe; on a full link it stopped
    assert len(sent) == len(calm) - 2 * 3
    assert all((a[0] + 1) & 0xFFFF == b[0] for a, b in itertools.pairwise(sent))
    pictures = [s for index, s in enumerate(sent) if index % 2 == 0]
    assert all(b[2] == (a[2] + 1) & 0x7FFF for a, b in itertools.pairwise(pictures))


def test_a_step_down_on_a_full_link_paces_the_new_layers_keyframe() -> None:
    """Under a 300 kb/s cap the 320 px keyframe, sent at once into the queue the 640 px
    layer left full, lost its tail and its resends: it leaves at the rate the link
    carries, the frames behind it follow in order, and once caught up the native path
    forwards the layer again."""
    timers = Timers()
    layers = Layers()
    sender = Sender()
    consumer = Consumer(layers, "citizen", sender, RoomCounters(), 256, lambda: None)  # type: ignore[arg-type]
    consumer.pacer.clock, consumer.pacer.schedule = timers.clock, timers.schedule
    inlets = [LayerInlet(Counters(), [consumer.track], layer) for layer in range(2)]
    layers.layers = inlets
    q, f = (Publisher(15, 100 * n, 10 * n, 1000 * n, 5000 * n, body=1000) for n in (1, 2))
    consumer.set_target_layer(1)
    for _ in range(3):
        for packet in f.next_frame():
            inlets[1].deliver(packet, 0)
    assert consumer.current_layer == 1 and consumer.track.holding == 0

    def sent() -> int:  # packets sent since the step down (one run of numbers)
        return (consumer.track.last_out_seq - before) & 0xFFFF

    before = consumer.track.last_out_seq
    # 10 000 bytes a second, once the queue f left has had 0.2 s to drain
    consumer.set_target_layer(0, link_full=True, pace_bps=80_000, hold_s=0.2)
    for _ in range(5):  # q's keyframe and four frames, as one burst
        for packet in q.next_frame():
            inlets[0].deliver(packet, 0)
    assert consumer.current_layer == 0
    assert consumer.track.holding == 1  # q's packets wait in the pacer, not in C
    # f's last packets, lost in that queue: the keyframe makes them useless, and their
    # resends would take the room it needs
    consumer.on_nack([before, (before - 1) & 0xFFFF])
    assert sender.resent == []
    timers.run_until(timers.now + 0.19)
    assert sent() == 0
    timers.run_until(timers.now + 0.02)
    assert sent() == 2  # one packet's burst and the packet it allows
    timers.run_until(timers.now + 0.5)
    assert sent() == 2 + 5  # 1 040 bytes each 0.104 s
    consumer.on_nack([(before + 1) & 0xFFFF])  # q's, sent since: resent
    assert sender.resent == [(before + 1) & 0xFFFF]
    timers.run_until(timers.now + 2.0)
    assert sent() == 10
    assert consumer.track.holding == 0  # caught up: the native path forwards q again
    assert all(consumer.track.history((before + n) & 0xFFFF) for n in range(1, 11))
    for packet in q.next_frame():
        inlets[0].deliver(packet, 0)
    assert sent() == 12  # at once, by C


def test_a_resume_after_a_pause_during_a_cut_is_not_paced() -> None:
    """A 60 kb/s cap steps down on a full link, then pauses video before the new keyframe
    comes: when the cap lifts, the resume's keyframe goes at once, not held and paced
    for a queue and a layer of the past."""
    timers = Timers()
    layers = Layers()
    consumer = Consumer(layers, "citizen", Sender(), RoomCounters(), 256, lambda: None)  # type: ignore[arg-type]
    consumer.pacer.clock, consumer.pacer.schedule = timers.clock, timers.schedule
    inlets = [LayerInlet(Counters(), [consumer.track], layer) for layer in range(2)]
    layers.layers = inlets
    q, f = (Publisher(15, 100 * n, 10 * n, 1000 * n, 5000 * n, body=1000) for n in (1, 2))
    consumer.set_target_layer(1)
    for packet in f.next_frame():
        inlets[1].deliver(packet, 0)
    consumer.set_target_layer(0, link_full=True, pace_bps=80_000, hold_s=0.2)
    consumer.pause()
    consumer.resume()
    before = consumer.track.last_out_seq
    for _ in range(5):
        for packet in q.next_frame():
            inlets[0].deliver(packet, 0)
    assert consumer.current_layer == 0 and consumer.track.holding == 0
    assert (consumer.track.last_out_seq - before) & 0xFFFF == 10  # all at once


def test_back_to_the_layer_it_stopped_asks_for_its_keyframe() -> None:
    """The decision goes back up before the lower keyframe came: the frames the current
    layer dropped meanwhile are a hole only its keyframe fills, and the numbering says so."""
    up = [(12, 0), (12, 2)]
    sent, layers = run_switches(15, [*up, (2, 0, True)])
    cut_at = len(sent)  # f stopped, q's keyframe not come yet
    assert 2 not in layers.keyframe_requests
    sent, layers = run_switches(15, [*up, (2, 0, True), (1, 2)])
    assert 2 in layers.keyframe_requests  # asked for at once, not yet answered
    assert len(sent) == cut_at  # what the history holds ends where f stopped: a hole


def test_an_old_keyframe_sent_again_does_not_switch_the_layer() -> None:
    """Browsers pad bandwidth probes with media they sent before, as RTX: an old
    keyframe's first packet arriving again is no place to switch (every packet since
    would be missing to the receiver)."""
    layers = Layers()
    consumer = Consumer(layers, "citizen", Sender(), RoomCounters(), 256, lambda: None)  # type: ignore[arg-type]
    inlets = [LayerInlet(Counters(), [consumer.track], layer) for layer in range(2)]
    layers.layers = inlets
    q, f = (Publisher(15, 100 * n, 10 * n, 1000 * n, 5000 * n) for n in (1, 2))
    old_keyframe = f.next_frame()[0]
    for packet in q.next_frame():
        inlets[0].deliver(packet, 0)
    consumer.set_target_layer(1)
    for _ in range(3):
        for publisher, inlet in ((q, inlets[0]), (f, inlets[1])):
            for packet in publisher.next_frame():
                inlet.deliver(packet, 0)
    inlets[1].deliver(old_keyframe, 0)  # resent: older than what f brought since
    assert consumer.current_layer == 0
    f.keyframe_due = True
    for packet in f.next_frame():
        inlets[1].deliver(packet, 0)
    assert consumer.current_layer == 1


def test_a_widened_packet_is_protected_and_sent_whole() -> None:
    """The byte a 7-bit PictureID gains is inside what SRTP protects and sends."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    master = bytes(range(44))
    try:
        pair = SimpleNamespace(
            protocol=SimpleNamespace(transport=SimpleNamespace(get_extra_info=lambda name: sender)),
            remote_addr=receiver.getsockname(),
        )
        egress = Egress()
        egress.attach(aead_srtp(master), {1: pair})
        track = Track(egress, Counters(), 0xBEEF, 16)
        track.configure(PAYLOAD_TYPE, b"", 0, 0, 0)
        track.vp8, track.picture_id_out = 1, 0x1233
        payload = descriptor(0x22, 7, tl0=1, tid=0) + b"\x10" + bytes(1200)
        assert track.emit(rtp(7, 90, payload), None, 0.0)
        plain = aead_srtp(master).unprotect(receiver.recv(2048))
        assert plain is not None and plain == track.history(7)
        view = RtpView.parse(plain)
        assert view is not None and len(view.payload) == len(payload) + 1
        sent = parse(view.payload)
        assert sent is not None and (sent.picture_id, sent.picture_id_bits) == (0x1234, 15)
        assert view.payload[sent.size :] == payload[5:]
    finally:
        receiver.close()
        sender.close()
