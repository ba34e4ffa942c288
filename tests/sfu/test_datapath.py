"""The native per-packet path (sfu/_datapath.c) does what the Python decisions expect."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from types import SimpleNamespace
from typing import Any

import pytest
from pylibsrtp import Policy, Session

from sfu import _datapath
from sfu._datapath import Counters, Egress, Ingress, Source, Track
from sfu.aiortc_adapter import native_srtp

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
    source = Source(counters, [track], 0)
    source.restart(65534)  # the layer adopts its SSRC at its first packet
    for seq in (65534, 65535, 0, 1):  # across the wrap
        source.deliver(rtp(seq), 0)
    assert (source.packets, source.received, source.max_seq, source.cycles) == (4, 4, 1, 0x10000)
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
    source = Source(counters, [switching, paused, other], 1)
    source.audio_level_id = LEVEL_ID
    source.deliver(rtp(7, level=0x85), 0)
    assert calls == [(7, 1, b"\x85")]
    assert other.packets_sent == 0 and other.history(other.last_out_seq) is None


def test_a_decision_that_raises_is_reported_and_the_other_tracks_still_get_the_packet() -> None:
    counters = Counters()
    errors: list[BaseException] = []
    broken = Track(Egress(), counters, 1, 64)
    broken.target_layer = 0
    broken.forward = lambda *args: 1 / 0
    steady = fast_track(counters)
    source = Source(counters, [broken, steady], 0)
    source.on_error = errors.append
    source.deliver(rtp(3), 0)
    assert len(errors) == 1 and isinstance(errors[0], ZeroDivisionError)
    assert steady.history(steady.last_out_seq) is not None


def test_only_speech_levels_reach_the_speaker_logic() -> None:
    counters = Counters()
    levels: list[int] = []
    source = Source(counters, [], 0)
    source.audio_level_id = LEVEL_ID
    source.on_level = levels.append
    source.level_threshold = 50
    for level in (127, 90, 40, 0x80 | 20):  # the top bit is the voice flag
        source.deliver(rtp(level, level=level), 0)
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
    known = Source(counters, [], 0)
    ingress.sources[0x1234] = known
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
        source = Source(counters, [track], 0)
        before = _datapath.send_stats()
        for seq in range(20):  # one wake-up's worth of packets
            source.deliver(rtp(seq), 0)
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


def test_without_a_running_loop_a_packet_leaves_at_once() -> None:
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
        assert egress.send(rtp(5))
        plain = session(Policy.SSRC_ANY_INBOUND).unprotect(receiver.recv(2048))
        assert plain == rtp(5)
    finally:
        receiver.close()
        sender.close()


def test_bad_arguments_are_refused_with_an_error() -> None:
    with pytest.raises(ValueError):
        Track(Egress(), Counters(), 1, 0)
    with pytest.raises(TypeError):
        Source(Counters(), (), 0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Source(Counters(), [], 0).deliver(b"\x00" * 20, 0)
    track = fast_track(Counters())
    with pytest.raises(ValueError):
        track.emit(b"short", None, 0.0)
