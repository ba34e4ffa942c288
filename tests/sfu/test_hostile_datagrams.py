"""Datagrams nobody should send do not hurt a call: an empty one, forged RTCP, and
DTLS-looking noise faster than aiortc's transport task reads it (its queue would grow
without end)."""

from __future__ import annotations

import os
import socket

import pytest

from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.aiortc import MAX_QUEUED_DATAGRAMS
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))
BURST = 5_000


async def test_empty_and_flooding_datagrams_are_dropped_and_media_goes_on() -> None:
    sfu = Sfu(LOOPBACK)
    room = sfu.room("hostile")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await bob.wait_for_frames("video", 5) >= 5
        fast_path = alice.participant._publish_pc.fast_path  # type: ignore[union-attr]
        assert fast_path is not None
        connection = fast_path._connection
        pair = connection._nominated[1]
        local_port = pair.protocol.transport.get_extra_info("sockname")[1]

        # an empty datagram on the wire, from anyone
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stray:
            stray.sendto(b"", ("127.0.0.1", local_port))
        assert await until(lambda: fast_path.dropped >= 1, 5)

        # forged RTCP is refused by SRTCP authentication on the spot, never queued
        noise = b"\x81\xc9\x00\x07" + os.urandom(28)
        for _ in range(BURST):
            pair.protocol.datagram_received(noise, pair.remote_addr)
        assert fast_path.srtp_errors >= BURST
        assert connection._queue.qsize() <= MAX_QUEUED_DATAGRAMS

        # DTLS-looking noise all at once, before the transport task runs again: bounded
        dropped = fast_path.dropped
        noise = b"\x17\xfe\xfd" + os.urandom(29)
        for _ in range(BURST):
            pair.protocol.datagram_received(noise, pair.remote_addr)
        assert connection._queue.qsize() <= MAX_QUEUED_DATAGRAMS
        assert fast_path.dropped - dropped >= BURST - MAX_QUEUED_DATAGRAMS

        # the connection survived both: bob still receives alice's video
        frames = bob.frames("video")
        assert await until(lambda: bob.frames("video") > frames + 10, 15)
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
