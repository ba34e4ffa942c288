"""The RTP pump writes, on a real connection, exactly the packets aiortc would write."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket

from bench import rtp_pump
from bench.ice_pinning import restrict_host_addresses
from bench.media_clip import VIDEO_320x180, video_clip
from bench.receive_stats import ReceiveStats
from bench.rtp_pump import BotPeerConnection, packetized
from bench.synthetic_tracks import PacketTrack


async def test_pumped_packets_are_aiortcs_packets_in_order() -> None:
    clip = video_clip(VIDEO_320x180)
    track = PacketTrack(clip)
    sender_pc = BotPeerConnection(ReceiveStats(), configuration=RTCConfiguration(iceServers=[]))
    receiver_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    received: list[bytes] = []
    enough = asyncio.Event()
    try:
        sender_pc.addTransceiver(track, direction="sendonly")
        restrict_host_addresses(sender_pc, ("127.0.0.1",))
        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        restrict_host_addresses(receiver_pc, ("127.0.0.1",))
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        dtls: Any = receiver_pc.getTransceivers()[0].receiver.transport

        async def capture(data: bytes, arrival_time_ms: int) -> None:
            received.append(data)  # decrypted RTP, before aiortc parses it
            if len(received) >= 40:
                enough.set()

        dtls._handle_rtp_data = capture
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        async with asyncio.timeout(20):
            await enough.wait()
        sender: Any = sender_pc.getTransceivers()[0].sender
        extensions = sender._RTCRtpSender__rtp_header_extensions_map
        mid = sender._RTCRtpSender__mid
    finally:
        await sender_pc.close()
        await receiver_pc.close()
        await rtp_pump.close_pump()

    frames = packetized(clip).payloads
    packets = [RtpPacket.parse(data, extensions) for data in received]
    expected_payloads = [p for frame in frames for p in frame][: len(packets)]
    assert [p.payload for p in packets] == expected_payloads  # the clip, from its keyframe
    first = packets[0]
    frame_of = [n for n, frame in enumerate(frames) for _ in frame]
    for n, (packet, data) in enumerate(zip(packets, received, strict=True)):
        frame = frame_of[n]
        assert packet.sequence_number == (first.sequence_number + n) & 0xFFFF
        assert packet.timestamp == (first.timestamp + frame * 6000) & 0xFFFFFFFF  # 15 fps
        last_of_frame = n + 1 == len(frame_of) or frame_of[n + 1] != frame
        assert packet.marker == (1 if last_of_frame else 0)
        assert packet.ssrc == sender._ssrc and packet.extensions.mid == mid
        assert packet.extensions.abs_send_time is not None
        assert packet.serialize(extensions) == data  # byte for byte what aiortc writes
