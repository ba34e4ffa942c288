"""``allowed_remote_networks`` holds for addresses learnt from connectivity checks too.

The SDP and trickle filters drop announced candidates outside the allowed networks, but a
check arriving from another address (a browser's other interface, sending to our
address) would make aioice learn a peer-reflexive candidate, answer it — traffic to an
address we must not reach — and perhaps nominate it. Here a client gathers on 127.0.0.2
as well as 127.0.0.1, and only 127.0.0.1/32 is allowed.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.sfu_loopback_client import LoopbackClient
from sfu import Sfu, SfuConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]


async def test_checks_from_outside_the_allowed_networks_are_dropped_unanswered() -> None:
    sfu = Sfu(SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.1/32",)))
    participant = sfu.room("bk-networks").add_participant("alice")
    client = LoopbackClient(participant, addresses=("127.0.0.2", "127.0.0.1"))
    try:
        await client.publish(video=False)
        pc = participant._publish_pc
        assert pc is not None and client.publish_pc is not None
        offer = client.publish_pc.localDescription.sdp
        assert " 127.0.0.2 " in offer  # the client does offer the other address
        connection = pc.getTransceivers()[0].receiver.transport.transport._connection
        deadline = time.monotonic() + 15
        while not (connection._nominated and pc.refused_datagrams > 0):
            assert time.monotonic() < deadline, (connection._nominated, pc.refused_datagrams)
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # the client's checks from 127.0.0.2 keep coming, unanswered
        remote_hosts = {pair.remote_addr[0] for pair in connection._check_list}
        assert remote_hosts == {"127.0.0.1"}, connection._check_list
        assert {pair.remote_addr[0] for pair in connection._nominated.values()} == {"127.0.0.1"}
        assert all(c.host == "127.0.0.1" for c in connection._remote_candidates)
        assert pc.accepts_remote("127.0.0.1") and not pc.accepts_remote("127.0.0.2")
    finally:
        await client.close()
        await sfu.close()
