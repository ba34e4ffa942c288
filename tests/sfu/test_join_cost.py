"""A join is cheap for the SFU: one DTLS certificate per process, no interface scan per gather.

The SFU's peer connections share one certificate (its fingerprint in every SDP we
send, as a browser or a mediasoup worker presents one per process), while the clients
keep aiortc's fresh certificate each; calls still connect and carry media. Gathering on
configured ICE addresses never enumerates the interfaces; without configured addresses
one scan serves several joins.
"""

from __future__ import annotations

from typing import Any

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.ice_pinning import restrict_host_addresses
from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.aiortc import peer_connection, process_certificate
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(60)

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))


def fingerprints(sdp: str) -> set[str]:
    return {line.split(":", 1)[1] for line in sdp.splitlines() if line.startswith("a=fingerprint:")}


def host_candidates(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


class ScanCounter:
    """Counts aioice's interface scans (the real scan still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = aioice.ice.get_host_addresses

        def get_host_addresses(*args: Any, **kwargs: Any) -> list[str]:
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(aioice.ice, "get_host_addresses", get_host_addresses)


async def client_offer() -> RTCPeerConnection:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    restrict_host_addresses(pc, ("127.0.0.1",))
    await pc.setLocalDescription(await pc.createOffer())
    return pc


@pytest.mark.slow
async def test_the_sfus_peer_connections_share_one_certificate_and_calls_still_carry_media() -> (
    None
):
    sfu = Sfu(LOOPBACK)
    room = sfu.room("bk-cert")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 10) >= 10
        assert await bob.wait_for_frames("video", 10) >= 10
        assert await alice.wait_for_frames("audio", 25) >= 25

        sfu_sdps, client_sdps = [], []
        for client in (alice, bob):
            for pc in (client.publish_pc, client.subscribe_pc):
                assert pc is not None and pc.connectionState == "connected"
                assert pc.remoteDescription is not None and pc.localDescription is not None
                sfu_sdps.append(pc.remoteDescription.sdp)  # the SFU's answer or offer
                client_sdps.append(pc.localDescription.sdp)
        ours = [fingerprints(sdp) for sdp in sfu_sdps]
        assert ours[0] and all(f == ours[0] for f in ours), "four SFU connections, one identity"
        theirs = [fingerprints(sdp) for sdp in client_sdps]
        assert all(f and not f & ours[0] for f in theirs), "clients keep their own certificate"
        assert len({frozenset(f) for f in theirs}) == len(theirs), "one per client connection"
        assert process_certificate().getFingerprints()[0].value in {f.split()[1] for f in ours[0]}
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()


async def test_gathering_on_configured_addresses_scans_no_interface(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scans = ScanCounter(monkeypatch)
    sfu = Sfu(LOOPBACK)
    participant = sfu.room("bk-gather").add_participant("alice")
    client = await client_offer()
    try:
        assert client.localDescription is not None
        before = scans.calls  # the client's own gathering scans, as aiortc does
        answer = await participant.publish(client.localDescription.sdp)
        assert scans.calls == before
        assert host_candidates(answer) == {"127.0.0.1"}
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        assert await until(lambda: client.connectionState == "connected", timeout_s=10)
    finally:
        await client.close()
        await sfu.close()


async def test_without_configured_addresses_one_interface_scan_serves_several_joins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(peer_connection, "_host_addresses", {}, raising=False)  # no earlier scan
    scanned = aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True)
    scans = ScanCounter(monkeypatch)
    sfu = Sfu(SfuConfig())
    room = sfu.room("bk-scan")
    clients = [await client_offer() for _ in range(3)]
    try:
        answers = []
        before = scans.calls
        for number, client in enumerate(clients):
            assert client.localDescription is not None
            participant = room.add_participant(f"p{number}")
            answers.append(await participant.publish(client.localDescription.sdp))
        assert scans.calls - before == 1
        for answer in answers:
            assert host_candidates(answer) == set(scanned)
    finally:
        for client in clients:
            await client.close()
        await sfu.close()
