"""A media connection that does not work is never silent: a refused answer, remote
candidates all outside the accepted networks, a failed DTLS handshake and ICE that never
connects each give one structured log line (room, participant, reason), a counter in
the SFU's stats (``/metrics``) and an ``error`` frame the client can act on."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any

import pytest
import structlog
from aiohttp import web
from aiohttp.test_utils import TestServer
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import sfu.connection_watch
import signaling
from sfu import Sfu, SfuConfig
from signaling.client import SignalingClient, SignalingError
from tests.signaling.conftest import Grant, JoinTokenAdapter, RecordingListener, SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack
from tests.support.waiting import until
from visioguichet.join_token import JoinTokenSigner
from visioguichet.metrics import render_prometheus

pytestmark = pytest.mark.timeout(60)

GUEST: Grant = {"role": "guest", "subject": "citizen-41", "name": "Jean Dupont"}
Factory = Callable[[tuple[str, ...]], Awaitable[SignalingHarness]]


@pytest.fixture
async def harness_for() -> AsyncIterator[Factory]:
    """The conftest harness, with the SFU's accepted remote networks chosen by the test."""
    made: list[tuple[SignalingHarness, TestServer]] = []

    async def make(allowed_remote_networks: tuple[str, ...]) -> SignalingHarness:
        signer = JoinTokenSigner(Ed25519PrivateKey.generate())
        media = Sfu(
            SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=allowed_remote_networks)
        )
        listener = RecordingListener()
        server = signaling.SignalingServer(
            media, JoinTokenAdapter(signer.verifier), listener=listener
        )
        app = web.Application()
        app.router.add_get("/ws", server.handle)
        test_server = TestServer(app, host="127.0.0.1")
        await test_server.start_server()
        url = str(test_server.make_url("/ws")).replace("http://", "ws://", 1)
        harness = SignalingHarness(server, media, signer, listener, url)
        made.append((harness, test_server))
        return harness

    yield make
    for harness, test_server in made:
        for client in harness.clients:
            await client.close()
        await harness.server.close()
        await harness.sfu.close()
        await test_server.close()


def failures(harness: SignalingHarness) -> dict[str, int]:
    return dict(harness.sfu.stats()["connection_failures"])


def failure_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [entry for entry in logs if entry["event"] == "sfu_connection_failed"]


async def publish_offer(client: SignalingClient) -> RTCPeerConnection:
    """A real aiortc publish connection with its offer gathered (not sent yet)."""
    pc = client._new_peer_connection()
    pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
    client._pin_addresses(pc)
    await pc.setLocalDescription(await pc.createOffer())
    client.publish_pc = pc  # closed with the client
    return pc


async def test_a_refused_subscribe_answer_is_logged_counted_and_told_as_answer_refused(
    harness_for: Factory,
) -> None:
    harness = await harness_for(("127.0.0.0/8",))
    host = await harness.joined()
    await host.publish({"camera": ColourVideoTrack((200, 30, 30))})
    guest = SignalingClient(harness.ws_url, ice_addresses=("127.0.0.1",))
    guest._offer_loop = _no_offer_loop  # type: ignore[method-assign]  # we answer by hand
    await guest.connect()
    harness.clients.append(guest)
    assert (await guest.join(harness.mint(**GUEST)))["type"] == "joined"
    offer = await guest.next_frame("offer", timeout_s=10)

    pc = RTCPeerConnection()
    guest.subscribe_pc = pc
    await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
    guest._pin_addresses(pc)
    await pc.setLocalDescription(await pc.createAnswer())
    assert pc.localDescription is not None
    # the answer's media section is a kind the offer never had: aiortc refuses it
    wrong = pc.localDescription.sdp.replace("m=video ", "m=audio ", 1)

    with structlog.testing.capture_logs() as logs, pytest.raises(SignalingError) as refused:
        await guest.request({"type": "answer", "pc": "subscribe", "sdp": wrong})
    assert refused.value.code == "answer-refused"
    assert refused.value.field == "sdp"
    assert failures(harness)["answer-refused"] == 1
    [line] = failure_lines(logs)
    assert line["room"] == "room-1" and line["participant"] == "citizen-41"
    assert line["code"] == "answer-refused" and line["pc"] == "subscribe" and line["reason"]
    assert 'visioguichet_sfu_connection_failures_total{reason="answer-refused"} 1' in (
        render_prometheus({"sfu": harness.sfu.stats()})
    )

    # the right answer still goes through afterwards
    await guest.send({"type": "answer", "pc": "subscribe", "sdp": pc.localDescription.sdp})
    assert await until(lambda: pc.connectionState == "connected", 10)


async def _no_offer_loop() -> None:
    return None


@pytest.mark.parametrize("end_of_candidates", [True, False], ids=["firefox-like", "chrome-like"])
async def test_candidates_all_outside_the_accepted_networks_give_no_usable_candidate(
    harness_for: Factory, end_of_candidates: bool
) -> None:
    harness = await harness_for(("10.99.0.0/16",))  # the client is on 127.0.0.1
    client = await harness.joined()
    with structlog.testing.capture_logs() as logs:
        pc = await publish_offer(client)
        assert pc.localDescription is not None
        offer = pc.localDescription.sdp
        assert "a=end-of-candidates" in offer
        if not end_of_candidates:
            offer = offer.replace("a=end-of-candidates\r\n", "")
        reply = await client.request({"type": "publish", "sdp": offer, "sources": {"0": "mic"}})
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == "no-usable-candidate"
    assert error["pc"] == "publish"
    assert "outside the networks" in error["message"]
    assert failures(harness)["no-usable-candidate"] == 1
    [line] = failure_lines(logs)
    assert (line["room"], line["participant"], line["code"]) == (
        "room-1",
        "agent-1",
        "no-usable-candidate",
    )


async def test_a_failed_dtls_handshake_gives_dtls_failed(harness_for: Factory) -> None:
    harness = await harness_for(("127.0.0.0/8",))
    client = await harness.joined()
    with structlog.testing.capture_logs() as logs:
        pc = await publish_offer(client)
        assert pc.localDescription is not None
        # a fingerprint that is not the client's certificate's: ICE connects, DTLS cannot
        forged = re.sub(
            r"(a=fingerprint:sha-256 )([0-9A-F]{2})",
            lambda m: m.group(1) + ("00" if m.group(2) != "00" else "11"),
            pc.localDescription.sdp,
        )
        assert forged != pc.localDescription.sdp
        reply = await client.request({"type": "publish", "sdp": forged, "sources": {"0": "mic"}})
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        error = await client.next_frame("error", timeout_s=15)
    assert (error["code"], error["pc"]) == ("dtls-failed", "publish")
    assert failures(harness)["dtls-failed"] == 1
    [line] = failure_lines(logs)
    assert (line["room"], line["participant"], line["code"]) == (
        "room-1",
        "agent-1",
        "dtls-failed",
    )


async def test_ice_that_never_connects_gives_ice_failed(
    harness_for: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sfu.connection_watch, "ICE_CONNECT_TIMEOUT_S", 2.0)
    harness = await harness_for(("127.0.0.0/8",))
    client = await harness.joined()
    with structlog.testing.capture_logs() as logs:
        pc = await publish_offer(client)
        assert pc.localDescription is not None
        offer = pc.localDescription.sdp
        await pc.close()  # its candidates now lead nowhere: nobody answers our checks
        await client.request({"type": "publish", "sdp": offer, "sources": {"0": "mic"}})
        error = await client.next_frame("error", timeout_s=15)
    assert (error["code"], error["pc"]) == ("ice-failed", "publish")
    assert failures(harness)["ice-failed"] == 1
    [line] = failure_lines(logs)
    assert (line["room"], line["participant"], line["code"]) == ("room-1", "agent-1", "ice-failed")
    assert 'visioguichet_signaling_errors_total{code="ice-failed"} 1' in render_prometheus(
        {"signaling": harness.server.stats()}
    )


async def test_a_peer_that_never_starts_dtls_gives_dtls_failed_in_time(
    harness_for: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sfu.connection_watch, "ICE_CONNECT_TIMEOUT_S", 2.0)
    harness = await harness_for(("127.0.0.0/8",))
    client = await harness.joined()
    pc = await publish_offer(client)
    assert pc.localDescription is not None

    async def never(*_args: Any) -> None:
        await asyncio.Event().wait()  # this peer answers ICE checks, then stays silent

    dtls = pc.getTransceivers()[0].receiver.transport
    dtls.start = never  # type: ignore[method-assign, assignment]
    with structlog.testing.capture_logs() as logs:
        reply = await client.request(
            {"type": "publish", "sdp": pc.localDescription.sdp, "sources": {"0": "mic"}}
        )
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        error = await client.next_frame("error", timeout_s=15)
    assert (error["code"], error["pc"]) == ("dtls-failed", "publish")
    assert "no DTLS handshake" in error["message"]
    assert pc.iceConnectionState == "completed"
    assert failures(harness)["dtls-failed"] == 1
    [line] = failure_lines(logs)
    assert (line["participant"], line["code"]) == ("agent-1", "dtls-failed")
