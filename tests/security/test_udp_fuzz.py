"""A call's ICE ports under hostile datagrams, on the real service process.

Two real aiortc participants (the bench's bots) hold a call through the signalling
server; 5 000 generated datagrams (``udp_fuzz_datagrams``, fixed seed: STUN, DTLS, RTP,
RTCP, random) go to the server's port of the publisher's connection and of the
subscriber's, half from a stranger's socket, half from the participants' own sockets
(what a broken or hostile client sends, or anyone spoofing its address). The call must
keep its media, the server must keep serving, and its log must stay small: a datagram
is not worth a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiortc import RTCPeerConnection

from bench.call_load import OurTarget
from bench.participants import PROFILES, Bot, Clips
from bench.rtp_pump import close_pump
from signaling.client import SignalingClient
from tests.security.udp_fuzz_datagrams import datagrams
from tests.support.server import RunningService, run_service
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SEED = 7983
DATAGRAMS = 5_000
BURST = 50  # datagrams sent back to back, then the event loop runs
LOG_BOUND_BYTES = 50_000  # for all 5 000 datagrams
MEDIA_AFTER_S = 4.0
MIN_VIDEO_PACKETS_AFTER = 20  # 320×180 at 15 fps sends well over 10 packets a second


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(tmp_path_factory.mktemp("udp-fuzz"), demo=False) as running:
        yield running


def _nominated_pair(pc: RTCPeerConnection | None) -> Any:
    """The ICE candidate pair a peer connection's media goes over (its socket, the
    server's address)."""
    assert pc is not None
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport or transceiver.receiver.transport
        if dtls is not None:
            pair = dtls.transport._connection._nominated.get(1)
            if pair is not None:
                return pair
    raise AssertionError("no nominated ICE pair")


def _ssrcs(pc: RTCPeerConnection | None) -> tuple[int, ...]:
    assert pc is not None
    return tuple(t.sender._ssrc for t in pc.getTransceivers() if t.sender.track is not None)


def _video_packets(bot: Bot) -> int:
    return bot.stats.kinds["video"].packets


def _log_size(service: RunningService) -> int:
    return service.log_path.stat().st_size if service.log_path.exists() else 0


def _tracebacks(log: str) -> list[str]:
    found = []
    for line in log.splitlines():
        record: Any = None
        with contextlib.suppress(ValueError):
            record = json.loads(line)
        if isinstance(record, dict) and (record.get("exc_info") or record.get("exception")):
            found.append(f"{record.get('event')}: {str(record.get('exception'))[-400:]}")
        elif "Traceback" in line:
            found.append(line[:300])
    return found


async def _still_serving(service: RunningService) -> None:
    async with aiohttp.ClientSession() as http, http.get(service.base_url + "/healthz") as answer:
        assert answer.status == 200
    async with SignalingClient(service.ws_url, ice_addresses=("127.0.0.1",)) as client:
        token = service.mint(room="after-udp", role="host", subject="late", name="Late")
        assert (await client.join(token))["type"] == "joined"
        assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_hostile_datagrams_leave_the_call_its_media_and_the_log_small(
    service: RunningService,
) -> None:
    profile = PROFILES["video-small"]
    target = OurTarget(
        service.ws_url, service.signer, service.process.pid, profile, Clips.for_profile(profile)
    )
    bots = await target.open_call(0)
    try:
        publisher, subscriber = bots
        assert await until(lambda: _video_packets(subscriber) > 20, 20), "no media before"
        publish_pair = _nominated_pair(publisher.client.publish_pc)  # type: ignore[attr-defined]
        subscribe_pair = _nominated_pair(subscriber.client.subscribe_pc)  # type: ignore[attr-defined]
        ssrcs = _ssrcs(publisher.client.publish_pc)  # type: ignore[attr-defined]
        log_before = _log_size(service)
        before = _video_packets(subscriber)

        stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        stranger.setblocking(False)
        sent: dict[str, int] = {}
        started = time.monotonic()
        try:
            for index, (kind, datagram) in enumerate(datagrams(SEED, DATAGRAMS, ssrcs)):
                pair = publish_pair if index % 2 == 0 else subscribe_pair
                if index % 4 < 2:
                    with contextlib.suppress(BlockingIOError):  # a full buffer drops, as UDP may
                        stranger.sendto(datagram, pair.remote_addr)
                else:
                    pair.protocol.transport.sendto(datagram, pair.remote_addr)
                sent[kind] = sent.get(kind, 0) + 1
                if index % BURST == BURST - 1:
                    await asyncio.sleep(0.005)
        finally:
            stranger.close()
        fuzz_s = time.monotonic() - started
        during = _video_packets(subscriber)
        await asyncio.sleep(MEDIA_AFTER_S)
        after = _video_packets(subscriber)
        log_growth = _log_size(service) - log_before
        print(
            f"{DATAGRAMS} datagrams {sent} in {fuzz_s:.1f} s; video packets at the subscriber: "
            f"{during - before} during, {after - during} in the {MEDIA_AFTER_S} s after; "
            f"log grew {log_growth} bytes"
        )

        assert service.process.poll() is None, "the server exited:\n" + service.log_text()[-3000:]
        assert after - during >= MIN_VIDEO_PACKETS_AFTER, (
            f"the call lost its media: {after - during} video packets in {MEDIA_AFTER_S} s "
            f"after the datagrams ({during - before} during them)"
        )
        assert log_growth < LOG_BOUND_BYTES, (
            f"{DATAGRAMS} datagrams made {log_growth} bytes of log; the end of it:\n"
            + service.log_text()[-3000:]
        )
        await _still_serving(service)
        tracebacks = _tracebacks(service.log_text())
        assert not tracebacks, "the server logged tracebacks:\n" + "\n".join(tracebacks[:20])
    finally:
        await asyncio.gather(*(bot.close() for bot in bots), return_exceptions=True)
        await close_pump()
