"""Subscriber NACKs are served from the consumer's packet history as RTX; what the
history no longer holds is asked of the publisher."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any

import pytest
from aiortc.rtp import RTCP_RTPFB_NACK, RtcpRtpfbPacket

from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.consumer import MAX_RESENDS, RETRANSMIT_MIN_INTERVAL_S
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",), packet_history_size=64
)


def video(pc: Any) -> Any:
    return next(t for t in pc.getTransceivers() if t.kind == "video")


async def test_nacks_are_served_from_history_or_forwarded_to_the_publisher() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-nack")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 10) >= 10
        consumer = alice.participant.consumers[("bob", "camera")]
        rtx_pt = consumer.sender.rtx_payload_type
        assert rtx_pt is not None, "RTX was offered and must be negotiated"

        receiver = video(alice.subscribe_pc).receiver
        seen: list[int] = []
        repaired: list[int] = []
        repaired_event = asyncio.Event()
        original_rtp = receiver._handle_rtp_packet

        async def on_rtp(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload_type == rtx_pt and len(packet.payload) >= 2:
                repaired.append(struct.unpack("!H", packet.payload[:2])[0])
                repaired_event.set()
            else:
                seen.append(packet.sequence_number)
            await original_rtp(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = on_rtp
        publisher_sender = video(bob.publish_pc).sender
        upstream: list[list[int]] = []
        upstream_event = asyncio.Event()
        original_rtcp = publisher_sender._handle_rtcp_packet

        async def on_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                upstream.append(list(packet.lost))
                upstream_event.set()
            await original_rtcp(packet)

        publisher_sender._handle_rtcp_packet = on_rtcp
        await asyncio.sleep(1.0)
        assert len(seen) > 5
        recent = seen[-2]
        media_ssrc = consumer.sender.ssrc
        nacked_before = consumer.packets_nacked
        await receiver._send_rtcp_nack(media_ssrc, [recent])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(repaired_event.wait(), 5)
        assert recent in repaired
        # a packet we sent and the subscriber missed counts once towards its loss
        assert consumer.packets_nacked == nacked_before + 1
        await asyncio.sleep(0.3)
        await receiver._send_rtcp_nack(media_ssrc, [recent])  # asked again: same loss
        await asyncio.sleep(0.3)
        assert consumer.packets_nacked == nacked_before + 1

        too_old = (seen[-1] - 1000) & 0xFFFF
        await receiver._send_rtcp_nack(media_ssrc, [too_old])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(upstream_event.wait(), 5)
        assert upstream, "an unserved NACK must reach the publisher"
        assert consumer.packets_nacked == nacked_before + 1, "not ours to count: never sent"
        stats = sfu.stats()["rooms"]["bk-nack"]
        assert stats["nacks_served"] >= 1 and stats["nacks_forwarded"] >= 1
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()


async def test_a_packet_is_resent_a_bounded_number_of_times_and_never_while_paused() -> None:
    """A browser asks for a missing packet up to ten times; behind a full queue each
    copy only keeps it full. A paused video's frames will not be shown: its NACKs
    are not served (they would take the link that could not carry it from audio)."""
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-nack-bound")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 10) >= 10
        consumer = alice.participant.consumers[("bob", "camera")]
        rtx_pt = consumer.sender.rtx_payload_type
        assert rtx_pt is not None
        receiver = video(alice.subscribe_pc).receiver
        seen: list[int] = []
        repaired: list[int] = []
        original_rtp = receiver._handle_rtp_packet

        async def on_rtp(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload_type == rtx_pt and len(packet.payload) >= 2:
                repaired.append(struct.unpack("!H", packet.payload[:2])[0])
            else:
                seen.append(packet.sequence_number)
            await original_rtp(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = on_rtp
        await asyncio.sleep(1.0)
        assert len(seen) > 5
        recent = seen[-2]
        media_ssrc = consumer.sender.ssrc
        renacked = consumer.packets_renacked
        keyframes_asked = sfu.stats()["rooms"]["bk-nack-bound"]["keyframe_requests"]
        for _ in range(MAX_RESENDS + 2):  # spaced beyond the once-a-round-trip limit
            await receiver._send_rtcp_nack(media_ssrc, [recent])
            await asyncio.sleep(max(RETRANSMIT_MIN_INTERVAL_S, consumer.rtt_s or 0.0) + 0.3)
        assert repaired.count(recent) == MAX_RESENDS
        # still asked for after its last copy: a keyframe from the publisher instead
        assert sfu.stats()["rooms"]["bk-nack-bound"]["keyframe_requests"] > keyframes_asked
        # lost again after its resend: once towards the loss the repair did not hide,
        # not once per request
        assert consumer.packets_renacked == renacked + 1

        alice.participant.set_video_cap("audio-only")  # paused, and kept so
        await asyncio.sleep(0.3)
        assert consumer.paused
        other = seen[-1]
        before = len(repaired)
        await receiver._send_rtcp_nack(media_ssrc, [other])
        await asyncio.sleep(0.5)
        assert len(repaired) == before, "a paused video is not repaired"

        last_before_pause = seen[-1]
        cut_mid_frame = bool(consumer.track.frame_open)
        alice.participant.set_video_cap("auto")  # resumed, from the next keyframe
        resumed_from = len(seen)
        assert await until(lambda: len(seen) > resumed_from + 5, 10)
        # the numbers go on where they stopped (a browser NACKs nothing that never was),
        # past one left out only when the pause cut a frame short
        assert seen[resumed_from] == (last_before_pause + 1 + cut_mid_frame) & 0xFFFF
        # what was sent before the pause is stale: the keyframe starts the picture
        # afresh, and old frames served beside it stalled Chrome's decoder 3 s
        forwarded = sfu.stats()["rooms"]["bk-nack-bound"]["nacks_forwarded"]
        await receiver._send_rtcp_nack(media_ssrc, [other])
        await asyncio.sleep(0.5)
        assert len(repaired) == before, "a packet from before the pause is not resent"
        assert sfu.stats()["rooms"]["bk-nack-bound"]["nacks_forwarded"] == forwarded
        after = seen[-2]
        await receiver._send_rtcp_nack(media_ssrc, [after])
        assert await until(lambda: after in repaired, 5), "one sent since is resent"
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
