"""The pre-call media probe: before joining, a client publishes into a throwaway SFU room
of its own, sees the SFU's receiver reports, and nobody in the call notices."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from signaling.client import SignalingError
from signaling.ice import restrict_host_addresses
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack

pytestmark = [pytest.mark.slow]

REPORT_TIMEOUT_S = 15.0


async def test_probe_carries_media_to_the_sfu_apart_from_the_call_and_ends_with_the_socket(
    harness: SignalingHarness,
) -> None:
    agent = await harness.joined(room="bk-7", role="host", subject="agent-1")
    prober = await harness.client()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver(ColourVideoTrack((0, 120, 255)), direction="sendonly")
        restrict_host_addresses(pc, ("127.0.0.1",))
        await pc.setLocalDescription(await pc.createOffer())
        reply = await prober.request(
            {
                "type": "probe",
                "token": harness.mint(room="bk-7", role="guest", subject="citizen-1"),
                "sdp": pc.localDescription.sdp,
                "sources": {str(transceiver.mid): "camera"},
            }
        )
        assert reply["type"] == "answer" and reply["pc"] == "probe"
        assert reply["ice_servers"] == []
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))

        # The SFU receives the stream: its receiver reports come back to the sender.
        deadline = time.monotonic() + REPORT_TIMEOUT_S
        remote_inbound: list[object] = []
        while time.monotonic() < deadline and not remote_inbound:
            await asyncio.sleep(0.25)
            stats = await pc.getStats()
            remote_inbound = [s for s in stats.values() if s.type == "remote-inbound-rtp"]
        assert remote_inbound, "no receiver report from the SFU"
        probes = [r for r in harness.sfu.rooms if r.startswith("probe-")]
        assert len(probes) == 1
        # The call's room saw nobody come in.
        assert [p for p in harness.sfu.rooms["bk-7"].participants] == ["agent-1"]
        with pytest.raises(asyncio.TimeoutError):
            await agent.next_frame("participant-joined", "published", timeout_s=0.5)

        with pytest.raises(SignalingError) as again:
            await prober.request(
                {
                    "type": "probe",
                    "token": harness.mint(room="bk-7", role="guest", subject="citizen-1"),
                    "sdp": pc.localDescription.sdp,
                    "sources": {str(transceiver.mid): "camera"},
                }
            )
        assert again.value.code == "bad-field"
    finally:
        await pc.close()
    await prober.close()
    for _ in range(100):  # bounded: 5 s
        if not any(r.startswith("probe-") for r in harness.sfu.rooms):
            break
        await asyncio.sleep(0.05)
    assert not any(r.startswith("probe-") for r in harness.sfu.rooms)


async def test_probe_needs_a_valid_token_and_only_before_join(harness: SignalingHarness) -> None:
    client = await harness.client()
    offer = {"type": "probe", "sdp": "v=0", "sources": {"0": "camera"}}
    with pytest.raises(SignalingError) as refused:
        await client.request({**offer, "token": "not-a-token"})
    assert refused.value.code == "token-malformed"
    assert refused.value.frame.get("field") == "token"
    with pytest.raises(SignalingError) as bad_source:
        await client.request({**offer, "token": harness.mint(), "sources": {"0": "webcam"}})
    assert bad_source.value.code == "bad-field"
    assert bad_source.value.frame.get("field") == "sources.0"
    await client.join(harness.mint(subject="agent-2"))
    with pytest.raises(SignalingError) as late:
        await client.request({**offer, "token": harness.mint()})
    assert late.value.code == "already-joined"
