"""RTCP through the SFU: keyframe requests reach the publisher (throttled), and the
sender reports a subscriber gets match the rewritten RTP timestamps (lip sync)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import pytest
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpSrPacket,
    pack_remb_fci,
)

from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.participant import SENDER_REPORT_INTERVAL_S

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

THROTTLE_S = 2.0
CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",),
    allowed_remote_networks=("127.0.0.0/8",),
    keyframe_request_min_interval_s=THROTTLE_S,
)


def transceiver(pc: Any, kind: str) -> Any:
    return next(t for t in pc.getTransceivers() if t.kind == kind)


async def test_subscriber_keyframe_requests_reach_the_publisher_throttled() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-pli")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 10) >= 10
        publisher_sender = transceiver(bob.publish_pc, "video").sender
        arrivals: list[float] = []
        second = asyncio.Event()
        original = publisher_sender._handle_rtcp_packet

        async def counting(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_PLI:
                arrivals.append(time.monotonic())
                if len(arrivals) >= 2:
                    second.set()
            await original(packet)

        publisher_sender._handle_rtcp_packet = counting
        await asyncio.sleep(THROTTLE_S + 0.3)  # let any start-up request's throttle lapse
        arrivals.clear()

        subscriber_receiver = transceiver(alice.subscribe_pc, "video").receiver
        media_ssrc = alice.participant.consumers[("bob", "camera")].sender.ssrc
        started = time.monotonic()
        for _ in range(10):
            await subscriber_receiver._send_rtcp_pli(media_ssrc)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        assert len(arrivals) == 1, arrivals
        assert arrivals[0] - started < 0.5

        await asyncio.sleep(max(0.0, started + THROTTLE_S + 0.2 - time.monotonic()))
        await subscriber_receiver._send_rtcp_pli(media_ssrc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(second.wait(), 2)
        assert len(arrivals) == 2
        assert sfu.stats()["rooms"]["bk-pli"]["keyframe_requests"] >= 2
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()


async def test_sender_reports_follow_the_rewritten_timestamps() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-sr")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 5) >= 5
        errors: dict[str, list[float]] = {"audio": [], "video": []}
        enough = asyncio.Event()
        for kind, clock in (("audio", 48_000), ("video", 90_000)):
            receiver = transceiver(alice.subscribe_pc, kind).receiver
            last_rtp: list[tuple[int, float]] = []
            original_rtp = receiver._handle_rtp_packet
            original_rtcp = receiver._handle_rtcp_packet

            async def on_rtp(
                packet: Any, arrival_time_ms: int, _o: Any = original_rtp, _l: Any = last_rtp
            ) -> None:
                _l[:] = [(packet.timestamp, time.monotonic())]
                await _o(packet, arrival_time_ms=arrival_time_ms)

            async def on_rtcp(
                packet: Any,
                _o: Any = original_rtcp,
                _l: Any = last_rtp,
                _k: str = kind,
                _c: int = clock,
            ) -> None:
                if isinstance(packet, RtcpSrPacket) and _l:
                    ts, at = _l[0]
                    expected = ts + (time.monotonic() - at) * _c
                    diff = (packet.sender_info.rtp_timestamp - expected + 2**31) % 2**32 - 2**31
                    errors[_k].append(abs(diff) / _c)
                    if min(len(e) for e in errors.values()) >= 3:
                        enough.set()
                await _o(packet)

            receiver._handle_rtp_packet = on_rtp
            receiver._handle_rtcp_packet = on_rtcp
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(enough.wait(), 15)
        for kind, seconds in errors.items():
            assert len(seconds) >= 3, kind
            assert max(seconds) < 0.25, (kind, seconds)
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()


def report_now(participant: Any) -> None:
    """The participant's periodic report, now (its pending timer cancelled first)."""
    if participant._report_timer is not None:
        participant._report_timer.cancel()
    participant._report()


async def test_sender_reports_leave_in_one_datagram_at_the_cadence_of_the_media() -> None:
    """With video: twice a second (each echoed report is a round trip, the queue's first
    sign), one compound packet holding a sender report per consumer. Audio alone: every
    5 s (mediasoup's audio cadence)."""
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-cadence")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    carol = LoopbackClient(room.add_participant("carol"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 3) >= 3
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + 10
        while not all(  # the publisher's own sender reports, which ours are derived from
            c.current_layer is not None and c.producer.layers[c.current_layer].sender_report
            for c in alice.participant.consumers.values()
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
        sent: list[bytes] = []
        for consumer in alice.participant.consumers.values():
            original = consumer.sender.send_rtcp_now

            def spy(data: bytes, _o: Any = original) -> bool:
                sent.append(data)
                return bool(_o(data))

            consumer.sender.send_rtcp_now = spy  # type: ignore[method-assign]
        report_now(alice.participant)
        assert len(sent) == 1, "one datagram for every consumer's sender report"
        reports = [p for p in RtcpPacket.parse(sent[0]) if isinstance(p, RtcpSrPacket)]
        ssrcs = {c.sender.ssrc for c in alice.participant.consumers.values()}
        assert {r.ssrc for r in reports} == ssrcs and len(ssrcs) == 2
        timer = alice.participant._report_timer
        assert timer is not None and timer.when() - loop.time() == pytest.approx(
            SENDER_REPORT_INTERVAL_S, abs=0.1
        )
        assert SENDER_REPORT_INTERVAL_S == 0.5
        video_producer = bob.participant.producers["camera"]
        assert video_producer._report_interval_s == 1.0

        await carol.publish(video=False)
        deadline = time.monotonic() + 10
        while "carol" not in {key[0] for key in alice.participant.consumers}:
            assert time.monotonic() < deadline
            await alice.sync_subscription()
            await asyncio.sleep(0.05)
        audio_producer = carol.participant.producers["mic"]
        assert audio_producer._report_interval_s == 5.0
        # a subscriber of audio alone: bob leaves, carol's audio is all alice receives
        await room.remove_participant("bob")
        deadline = time.monotonic() + 10
        while any(key[0] == "bob" for key in alice.participant.consumers):
            assert time.monotonic() < deadline
            await alice.sync_subscription()
            await asyncio.sleep(0.05)
        report_now(alice.participant)
        timer = alice.participant._report_timer
        assert timer is not None and timer.when() - loop.time() == pytest.approx(5.0, abs=0.1)
    finally:
        for client in (alice, bob, carol):
            await client.close()
        await sfu.close()


async def test_a_remb_naming_only_the_rtx_stream_reaches_its_video() -> None:
    """While a paused video is probed with padding, Chrome's estimator knows only the
    RTX stream (it forgets one 2 s after its last packet): its REMB names that SSRC
    alone, and must reach the video it repairs."""
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-remb-rtx")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 3) >= 3
        consumer = alice.participant.consumers[("bob", "camera")]
        rtx_ssrc = consumer.sender.rtx_ssrc
        receiver: Any = transceiver(alice.subscribe_pc, "video").receiver
        remb = RtcpPsfbPacket(
            fmt=RTCP_PSFB_APP,
            ssrc=receiver._RTCRtpReceiver__rtcp_ssrc or 1,
            media_ssrc=0,
            fci=pack_remb_fci(123_456, [rtx_ssrc]),
        )
        before = consumer.remb_at
        deadline = time.monotonic() + 5
        while consumer.remb_bps != 123_456 or consumer.remb_at == before:
            assert time.monotonic() < deadline, consumer.remb_bps
            await receiver._send_rtcp(remb)
            await asyncio.sleep(0.1)
    finally:
        for client in (alice, bob):
            await client.close()
        await sfu.close()


async def test_a_subscribers_audio_is_queued_before_its_video_and_padding_after_it() -> None:
    """Each consumer's packets carry its place in the subscriber's batch: audio first,
    then video and its retransmissions, padding probes last, all through the one
    egress of the subscriber's connection."""
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-audio-first")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 3) >= 3
        audio = alice.participant.consumers[("bob", "mic")]
        video = alice.participant.consumers[("bob", "camera")]
        assert (audio.track.priority, video.track.priority) == (1, 0)
        egress = video.track.egress
        assert audio.track.egress is egress
        before = egress.sent
        assert video.send_padding(3) == 3
        assert egress.sent - before >= 3
        assert audio.send_padding(3) == 0  # never padding on audio
    finally:
        for client in (alice, bob):
            await client.close()
        await sfu.close()
