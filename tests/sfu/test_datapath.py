"""The native per-packet path (sfu/_datapath.c) does what the Python decisions expect."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import struct
import sys
import time
import weakref
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from pylibsrtp import Policy, Session

from sfu import _datapath
from sfu._datapath import Counters, Egress, Ingress, LayerInlet, LayerInletMap, Track
from sfu.aiortc import native_srtp
from sfu.rtp_view import RtpView

KEY = os.urandom(30)
LEVEL_ID = 1


def session(direction: int) -> Session:
    return Session(
        Policy(key=KEY, ssrc_type=direction, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    )


def rtp(seq: int, ssrc: int = 0x1234, level: int | None = None, marker: int = 0) -> bytes:
    first = 0x80
    extension = b""
    if level is not None:
        first |= 0x10
        extension = bytes((0xBE, 0xDE, 0, 1, LEVEL_ID << 4, level, 0, 0))
    header = struct.pack("!BBHII", first, (marker << 7) | 111, seq, seq * 960, ssrc)
    return header + extension + bytes(range(100))


def fast_track(counters: Counters, layer: int = 0) -> Track:
    track = Track(Egress(), counters, 0xBEEF, 64)
    track.configure(111, b"", 0, 0, 0)
    track.current_layer = layer
    return track


def test_a_steady_track_rewrites_counts_and_keeps_every_packet_for_nacks() -> None:
    counters = Counters()
    track = fast_track(counters)
    track.seq_offset = 1000
    inlet = LayerInlet(counters, [track], 0)
    inlet.restart(65534)  # the layer adopts its SSRC at its first packet
    for seq in (65534, 65535, 0, 1):  # across the wrap
        inlet.deliver(rtp(seq), 0)
    assert (inlet.packets, inlet.received, inlet.max_seq, inlet.cycles) == (4, 4, 1, 0x10000)
    assert counters.packets_in == 4
    kept = track.history((1 + 1000) & 0xFFFF)
    assert kept is not None and struct.unpack_from("!HII", kept, 2) == (1001, 960, 0xBEEF)
    assert track.last_out_seq == 1001 and track.frame_open == 1
    assert track.history(5) is None
    assert counters.packets_out == 0  # no connection: kept, not counted as sent


def test_packets_needing_a_decision_go_to_the_consumer_and_the_rest_are_ignored() -> None:
    counters = Counters()
    calls: list[tuple[int, int, bytes | None]] = []
    switching = Track(Egress(), counters, 1, 64)
    switching.configure(111, b"", 0, 0, 0)
    switching.current_layer, switching.target_layer = 0, 1  # waits for a keyframe of layer 1
    switching.forward = lambda view, layer, level: calls.append(
        (view.sequence_number, layer, level)
    )
    paused = Track(Egress(), counters, 2, 64)
    paused.paused, paused.target_layer = 1, 1
    paused.forward = lambda *args: calls.append((-1, -1, None))
    other = fast_track(counters, layer=2)  # forwards layer 2, wants nothing else
    other.target_layer = 2
    other.forward = lambda *args: calls.append((-2, -2, None))
    inlet = LayerInlet(counters, [switching, paused, other], 1)
    inlet.audio_level_id = LEVEL_ID
    inlet.deliver(rtp(7, level=0x85), 0)
    assert calls == [(7, 1, b"\x85")]
    assert other.packets_sent == 0 and other.history(other.last_out_seq) is None


def test_a_decision_that_raises_is_reported_and_the_other_tracks_still_get_the_packet() -> None:
    counters = Counters()
    errors: list[BaseException] = []
    broken = Track(Egress(), counters, 1, 64)
    broken.target_layer = 0
    broken.forward = lambda *args: 1 / 0
    steady = fast_track(counters)
    inlet = LayerInlet(counters, [broken, steady], 0)
    inlet.on_error = errors.append
    inlet.deliver(rtp(3), 0)
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    assert steady.history(steady.last_out_seq) is not None


def test_only_speech_levels_reach_the_speaker_logic() -> None:
    counters = Counters()
    levels: list[int] = []
    inlet = LayerInlet(counters, [], 0)
    inlet.audio_level_id = LEVEL_ID
    inlet.on_level = levels.append
    inlet.level_threshold = 50
    for level in (127, 90, 40, 0x80 | 20):  # the top bit is the voice flag
        inlet.deliver(rtp(level, level=level), 0)
    assert levels == [40, 20]


def test_ingress_sorts_datagrams_and_unprotects_rtp_and_rtcp() -> None:
    sender = session(Policy.SSRC_ANY_OUTBOUND)
    seen: dict[str, list[Any]] = {"slow": [], "rtcp": [], "other": []}
    counters = Counters()
    ingress = Ingress()
    ingress.attach(
        native_srtp(session(Policy.SSRC_ANY_INBOUND)),
        seen["slow"].append,
        seen["rtcp"].append,
        lambda data, addr: seen["other"].append((data, addr)),
    )
    known = LayerInlet(counters, [], 0)
    ingress.inlets[0x1234] = known
    ingress(sender.protect(rtp(1)), ("127.0.0.1", 1))
    ingress(sender.protect(rtp(2, ssrc=0x999)), ("127.0.0.1", 1))
    receiver_report = struct.pack("!BBHI", 0x80, 201, 1, 0x42)
    ingress(sender.protect_rtcp(receiver_report), ("127.0.0.1", 1))
    stun = b"\x00\x01" + bytes(18)
    ingress(stun, ("127.0.0.1", 2))
    forged = bytearray(sender.protect(rtp(3)))
    forged[-1] ^= 0xFF
    ingress(bytes(forged), ("127.0.0.1", 1))
    assert known.packets == 1
    assert [struct.unpack_from("!I", p, 8)[0] for p in seen["slow"]] == [0x999]
    assert seen["rtcp"] == [receiver_report]
    assert seen["other"] == [(stun, ("127.0.0.1", 2))]
    assert ingress.srtp_errors == 1


def test_an_inlet_map_maps_ssrcs_to_inlets_like_a_dict() -> None:
    counters = Counters()
    audio, video, screen = (LayerInlet(counters, [], layer) for layer in (0, 1, 2))
    inlets = LayerInletMap()
    assert len(inlets) == 0 and not inlets and list(inlets) == [] and inlets.items() == []
    inlets[0x1234] = audio
    inlets[0xFFFFFFFF] = video
    inlets[0] = screen
    assert len(inlets) == 3 and inlets
    assert inlets[0x1234] is audio and inlets[0xFFFFFFFF] is video and inlets[0] is screen
    assert 0x1234 in inlets and 0x1235 not in inlets
    assert -1 not in inlets and 2**32 not in inlets  # no SSRC is either
    assert list(inlets) == inlets.keys() == [0x1234, 0xFFFFFFFF, 0]  # in the order added
    assert inlets.values() == [audio, video, screen]
    assert inlets.items() == [(0x1234, audio), (0xFFFFFFFF, video), (0, screen)]
    assert inlets.get(0x1234) is audio and inlets.get(7) is None and inlets.get(7, 5) == 5
    assert inlets.get(-1, "none") == "none"
    inlets[0x1234] = screen  # replaced in place
    assert inlets[0x1234] is screen and list(inlets) == [0x1234, 0xFFFFFFFF, 0]
    with pytest.raises(KeyError):
        inlets[7]
    del inlets[0xFFFFFFFF]
    assert list(inlets) == [0x1234, 0] and 0xFFFFFFFF not in inlets
    with pytest.raises(KeyError):
        del inlets[0xFFFFFFFF]
    assert inlets.pop(0) is screen and list(inlets) == [0x1234]
    with pytest.raises(KeyError):
        inlets.pop(0)
    assert inlets.pop(0, None) is None and inlets.pop(-1, "none") == "none"
    assert "0x00001234: <LayerInlet layer 2, 0 packets" in repr(inlets)
    inlets.clear()
    assert len(inlets) == 0 and list(inlets) == [] and repr(inlets) == "LayerInletMap({})"
    inlets[5] = audio  # usable again after clear
    assert inlets.items() == [(5, audio)]


def test_an_inlet_map_grows_past_any_fixed_size() -> None:
    counters = Counters()
    inlets = LayerInletMap()
    added = {0x10000000 + 7919 * i: LayerInlet(counters, [], i) for i in range(200)}
    for ssrc, inlet in added.items():
        inlets[ssrc] = inlet
    assert len(inlets) == 200 and list(inlets) == list(added)
    assert all(inlets[ssrc] is inlet for ssrc, inlet in added.items())
    for ssrc in list(added)[::2]:
        del inlets[ssrc]
    assert list(inlets) == list(added)[1::2]
    assert all(inlets.get(ssrc) is added[ssrc] for ssrc in list(added)[1::2])
    assert all(ssrc not in inlets for ssrc in list(added)[::2])


def test_an_inlet_map_refuses_bad_keys_and_values_and_stays_as_it_was() -> None:
    inlet = LayerInlet(Counters(), [], 0)
    inlets = LayerInletMap()
    inlets[1] = inlet
    bad: list[tuple[Any, Any, type[Exception]]] = [
        (-1, inlet, OverflowError),
        (2**32, inlet, OverflowError),
        (2**80, inlet, OverflowError),
        ("1", inlet, TypeError),
        (1.0, inlet, TypeError),
        (None, inlet, TypeError),
        (2, "inlet", TypeError),
        (2, None, TypeError),
        (1, {"a": 1}, TypeError),  # not even replacing an entry
        (2, Counters(), TypeError),
    ]
    for key, value, error in bad:
        with pytest.raises(error):
            inlets[key] = value
    not_ssrcs: list[Any] = ["1", 1.0, None, b"\x01"]  # the C checks what annotations cannot
    for key in not_ssrcs:
        with pytest.raises(TypeError):
            inlets[key]
        with pytest.raises(TypeError):
            key in inlets  # noqa: B015
        with pytest.raises(TypeError):
            inlets.get(key)
        with pytest.raises(TypeError):
            inlets.pop(key, None)
        with pytest.raises(TypeError):
            del inlets[key]
    for key in (-1, 2**32):
        with pytest.raises(KeyError):
            inlets[key]
        with pytest.raises(KeyError):
            del inlets[key]
    with pytest.raises(TypeError):
        LayerInletMap({1: inlet})  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        inlets.get()  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        inlets.pop(1, None, None)  # type: ignore[call-overload]
    assert inlets.items() == [(1, inlet)]


def test_an_inlet_map_releases_the_inlets_it_no_longer_holds() -> None:
    inlet = LayerInlet(Counters(), [], 0)
    alone = sys.getrefcount(inlet)
    inlets = LayerInletMap()
    for ssrc in range(10):
        inlets[ssrc] = inlet
    assert sys.getrefcount(inlet) == alone + 10
    del inlets[0]
    assert inlets.pop(1) is inlet
    inlets[2] = LayerInlet(Counters(), [], 1)  # replaced
    assert sys.getrefcount(inlet) == alone + 7
    inlets.clear()
    assert sys.getrefcount(inlet) == alone
    for ssrc in range(3):
        inlets[ssrc] = inlet
    del inlets
    assert sys.getrefcount(inlet) == alone


def test_an_inlet_map_takes_part_in_garbage_collection() -> None:
    class Marker:
        def __init__(self, inlets: LayerInletMap) -> None:
            self.inlets = inlets

    marker = Marker(LayerInletMap())
    inlet = LayerInlet(Counters(), [], 0)
    inlet.on_level = marker  # type: ignore[assignment]  # marker → inlets → inlet → marker
    marker.inlets[0x1234] = inlet
    assert gc.is_tracked(marker.inlets) and inlet in gc.get_referents(marker.inlets)
    collected = weakref.ref(marker)
    del marker, inlet
    gc.collect()
    assert collected() is None


def test_ingress_takes_an_inlet_map_and_its_sockets_share_it() -> None:
    inlets = LayerInletMap()
    first, second = Ingress(inlets), Ingress(inlets)
    assert first.inlets is inlets and second.inlets is inlets
    assert isinstance(Ingress().inlets, LayerInletMap) and len(Ingress().inlets) == 0
    with pytest.raises(TypeError):
        Ingress({})  # type: ignore[arg-type]
    inlets[1] = LayerInlet(Counters(), [], 0)
    first.close()  # the connection is gone: its map is emptied
    assert len(inlets) == 0 and second.inlets is inlets


def test_ingress_dispatch_follows_the_inlet_map() -> None:
    sender = session(Policy.SSRC_ANY_OUTBOUND)
    slow: list[bytes] = []
    ingress = Ingress()
    ingress.attach(native_srtp(session(Policy.SSRC_ANY_INBOUND)), slow.append, None, None)
    known = LayerInlet(Counters(), [], 0)
    seq = iter(range(1, 100))

    def receive(expected_fast: int, expected_slow: int) -> None:
        ingress(sender.protect(rtp(next(seq))), ("127.0.0.1", 1))
        assert (ingress.fast_packets, len(slow)) == (expected_fast, expected_slow)

    receive(0, 1)  # not known yet: the slow path
    ingress.inlets[0x1234] = known
    receive(1, 1)  # native
    del ingress.inlets[0x1234]
    receive(1, 2)
    ingress.inlets[0x1234] = known
    receive(2, 2)
    assert ingress.inlets.pop(0x1234) is known
    receive(2, 3)
    ingress.inlets[0x999] = known  # another SSRC's entry does not take this one's packets
    receive(2, 4)
    ingress.inlets[0x1234] = known
    receive(3, 4)
    ingress.inlets.clear()
    receive(3, 5)
    assert known.packets == 3
    assert all(struct.unpack_from("!I", p, 8)[0] == 0x1234 for p in slow)


class Endpoint(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.put_nowait(data)


async def test_egress_batches_a_wake_ups_packets_into_one_send_and_they_all_arrive() -> None:
    loop = asyncio.get_running_loop()
    ours, _ = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    theirs, endpoint = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    try:
        pair = SimpleNamespace(
            protocol=SimpleNamespace(transport=ours),
            remote_addr=theirs.get_extra_info("sockname")[:2],
        )
        egress = Egress()
        egress.attach(native_srtp(session(Policy.SSRC_ANY_OUTBOUND)), {1: pair})
        counters = Counters()
        track = Track(egress, counters, 0xBEEF, 64)
        track.configure(111, b"0", 1, 0, 0)
        track.current_layer = 0
        inlet = LayerInlet(counters, [track], 0)
        before = _datapath.send_stats()
        for seq in range(20):  # one wake-up's worth of packets
            inlet.deliver(rtp(seq), 0)
        assert _datapath.send_stats()["pending"] == 20  # nothing left yet
        inbound = session(Policy.SSRC_ANY_INBOUND)
        got = [inbound.unprotect(await asyncio.wait_for(endpoint.received.get(), 5))]
        while len(got) < 20:
            got.append(inbound.unprotect(await asyncio.wait_for(endpoint.received.get(), 5)))
        after = _datapath.send_stats()
        assert after["batched_packets"] - before["batched_packets"] == 20
        assert after["batches"] - before["batches"] == 1
        assert [struct.unpack_from("!H", p, 2)[0] for p in got] == [
            (s + track.seq_offset) & 0xFFFF for s in range(20)
        ]
        assert counters.packets_out == 20 and egress.sent == 20
        assert egress.send_rtcp(struct.pack("!BBHI", 0x80, 201, 1, 0x42))
        rtcp = await asyncio.wait_for(endpoint.received.get(), 5)
        assert inbound.unprotect_rtcp(rtcp) == struct.pack("!BBHI", 0x80, 201, 1, 0x42)
        egress.close()
        assert not egress.send(rtp(99))  # closed: nothing leaves
    finally:
        ours.close()
        theirs.close()


async def test_audio_leaves_before_video_and_padding_queued_earlier_in_the_same_batch() -> None:
    """A bottleneck queue drops what exceeds its rate: audio behind a keyframe's burst
    would be what it drops. Each stream keeps its own order (SRTP and receivers expect it)."""
    loop = asyncio.get_running_loop()
    ours, _ = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    theirs, endpoint = await loop.create_datagram_endpoint(Endpoint, local_addr=("127.0.0.1", 0))
    try:
        pair = SimpleNamespace(
            protocol=SimpleNamespace(transport=ours),
            remote_addr=theirs.get_extra_info("sockname")[:2],
        )
        egress = Egress()
        egress.attach(native_srtp(session(Policy.SSRC_ANY_OUTBOUND)), {1: pair})
        counters = Counters()
        video, audio = Track(egress, counters, 0xB1DE0, 64), Track(egress, counters, 0xA0D10, 64)
        audio.priority = 1
        for track in (video, audio):
            track.configure(111, b"0", 1, 0, 0)
            track.current_layer = 0
        video_inlet = LayerInlet(counters, [video], 0)
        audio_inlet = LayerInlet(counters, [audio], 0)
        video_inlet.deliver(rtp(1, marker=0), 0)  # a keyframe's first packets
        video_inlet.deliver(rtp(2, marker=0), 0)
        assert egress.send(rtp(7, ssrc=0x9AD), priority=-1)  # a padding probe
        audio_inlet.deliver(rtp(1), 0)
        video_inlet.deliver(rtp(3, marker=1), 0)
        audio_inlet.deliver(rtp(2), 0)
        assert _datapath.send_stats()["pending"] == 6  # one wake-up's batch, not sent yet
        inbound = session(Policy.SSRC_ANY_INBOUND)
        got: list[tuple[int, int]] = []
        while len(got) < 6:
            packet = inbound.unprotect(await asyncio.wait_for(endpoint.received.get(), 5))
            got.append(struct.unpack_from("!HxxxxI", packet, 2))
        assert got == [
            (1, 0xA0D10), (2, 0xA0D10), (1, 0xB1DE0), (2, 0xB1DE0), (3, 0xB1DE0), (7, 0x9AD)
        ]  # fmt: skip
    finally:
        ours.close()
        theirs.close()


def test_a_priority_outside_audio_video_and_padding_is_refused() -> None:
    track = fast_track(Counters())
    assert track.priority == 0 and isinstance(track.egress, Egress)
    for bad in (2, -2):
        with pytest.raises(ValueError):
            track.priority = bad
        with pytest.raises(ValueError):
            track.egress.send(rtp(1), priority=bad)
    with pytest.raises(TypeError):
        track.priority = "audio"  # type: ignore[assignment]
    assert track.priority == 0


@contextlib.contextmanager
def connected_egress() -> Iterator[tuple[Egress, socket.socket]]:
    """An egress attached to a socket on 127.0.0.1, and the socket its packets reach."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    try:
        transport = SimpleNamespace(get_extra_info=lambda name: sender)
        pair = SimpleNamespace(
            protocol=SimpleNamespace(transport=transport), remote_addr=receiver.getsockname()
        )
        egress = Egress()
        egress.attach(native_srtp(session(Policy.SSRC_ANY_OUTBOUND)), {1: pair})
        yield egress, receiver
    finally:
        receiver.close()
        sender.close()


def test_without_a_running_loop_a_packet_leaves_at_once() -> None:
    with connected_egress() as (egress, receiver):
        assert egress.send(rtp(5))
        plain = session(Policy.SSRC_ANY_INBOUND).unprotect(receiver.recv(2048))
        assert plain == rtp(5)


def test_bad_arguments_are_refused_with_an_error() -> None:
    with pytest.raises(ValueError):
        Track(Egress(), Counters(), 1, 0)
    with pytest.raises(TypeError):
        LayerInlet(Counters(), (), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LayerInlet(Counters(), [], 0).deliver(b"\x00" * 20, 0)
    track = fast_track(Counters())
    with pytest.raises(ValueError):
        track.emit(b"short", None, 0.0)


def test_a_reader_hands_datagrams_to_its_ingress_without_looking_the_protocol_up() -> None:
    """``reader.ingress``, set by its owner with ``datagram_received``, is used as is;
    without it every datagram goes to whatever ``datagram_received`` is now."""
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.setblocking(False)
    looked_up: list[bytes] = []
    other: list[bytes] = []
    protocol = SimpleNamespace(datagram_received=lambda data, addr: looked_up.append(data))
    reader = _datapath.Reader(server.fileno(), protocol)
    ingress = Ingress()
    ingress.attach(
        native_srtp(session(Policy.SSRC_ANY_INBOUND)), None, None,
        lambda data, addr: other.append(data),
    )  # fmt: skip

    def send_and_read(data: bytes) -> None:
        before = reader.datagrams
        client.sendto(data, server.getsockname())
        deadline = time.monotonic() + 2.0  # loopback delivers at once; bounded anyway
        while reader.datagrams == before and time.monotonic() < deadline:
            reader()
        assert reader.datagrams == before + 1

    try:
        stun = b"\x00\x01" + bytes(18)
        send_and_read(stun)
        assert looked_up == [stun] and other == []
        reader.ingress = ingress  # the owner swapped both; the protocol still says lambda
        send_and_read(stun)
        assert looked_up == [stun] and other == [stun]
        reader.ingress = None
        send_and_read(stun)
        assert looked_up == [stun, stun] and other == [stun]
    finally:
        reader.close()
        server.close()
        client.close()


def test_audio_numbered_transport_wide_leaves_with_consecutive_numbers_and_send_times() -> None:
    """Two tracks on one connection share its numbering; each number's send time is kept
    for the subscriber's feedback, and a packet that could not leave takes no number."""
    unconnected = Egress()
    track = Track(unconnected, Counters(), 0xA1, 64)
    track.configure(111, b"0", 2, 0, LEVEL_ID, 5)
    assert not track.emit(rtp(1, level=0x7F), None, 10.0)  # not connected yet
    assert unconnected.transport_seq == 0 and unconnected.sent_at(0) is None
    with connected_egress() as (egress, receiver):
        counters = Counters()
        tracks = [Track(egress, counters, ssrc, 64) for ssrc in (0xA1, 0xA2)]
        for track in tracks:
            track.configure(111, b"0", 2, 0, LEVEL_ID, 5)
        unprotect = session(Policy.SSRC_ANY_INBOUND).unprotect
        numbers = []
        for seq in range(6):
            assert tracks[seq % 2].emit(rtp(seq + 2), b"\x05", 20.0 + seq)
            view = RtpView.parse(unprotect(receiver.recv(2048)))
            assert view is not None and view.extension(LEVEL_ID) == b"\x05"
            value = view.extension(5)
            assert value is not None and len(value) == 2
            numbers.append(struct.unpack("!H", value)[0])
        assert numbers == [0, 1, 2, 3, 4, 5]
        assert [egress.sent_at(n) for n in numbers] == [20.0 + n for n in numbers]
        assert egress.sent_at(6) is None and egress.transport_seq == 6
        tracks[1].configure(111, b"0", 2, 0, LEVEL_ID, 0)  # the answer took it back
        assert tracks[1].emit(rtp(9), None, 30.0)
        view = RtpView.parse(unprotect(receiver.recv(2048)))
        assert view is not None and view.extension(5) is None and egress.transport_seq == 6
        with pytest.raises(ValueError):
            egress.sent_at(0x10000)


def test_the_send_log_forgets_the_numbers_it_has_written_over() -> None:
    with connected_egress() as (egress, _):
        track = Track(egress, Counters(), 0xA1, 64)
        track.configure(111, b"", 0, 0, 0, 3)
        for seq in range(2049):  # one more than the log holds
            assert track.emit(rtp(seq & 0xFFFF), None, 1.0 + seq)
        assert egress.sent_at(0) is None  # its slot now holds 2048
        assert egress.sent_at(1) == 2.0 and egress.sent_at(2048) == 2049.0
