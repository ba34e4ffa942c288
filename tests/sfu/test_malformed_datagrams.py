"""A datagram aioice cannot parse costs one counter increment, not a traceback.

A 28-byte STUN Binding request whose PRIORITY attribute is 2 bytes long makes aioice's
parser raise ``struct.error``; anyone can send it to an ICE port. A thousand of them at
a joined participant leave its call alone, are counted in the SFU's stats (what
``/metrics`` shows) and produce one log line for their one source.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys

import pytest
import structlog

from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from tests.support.waiting import until
from visioguichet.metrics import render_prometheus

pytestmark = pytest.mark.timeout(90)

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))
COUNT = 1000
STUN_COOKIE = 0x2112A442
PRIORITY = 0x0024


def short_priority_binding_request() -> bytes:
    """20-byte header, then PRIORITY with a 2-byte value (4 expected) and its padding."""
    attribute = struct.pack("!HH", PRIORITY, 2) + b"\x00\x01\x00\x00"
    header = struct.pack("!HHI", 0x0001, len(attribute), STUN_COOKIE) + os.urandom(12)
    return header + attribute


async def test_malformed_stun_is_dropped_counted_and_logged_once_while_media_flows(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a production process does with an exception the socket reader cannot hand
    # back: print it (pytest would otherwise collect it quietly)
    monkeypatch.setattr(sys, "unraisablehook", sys.__unraisablehook__)
    sfu = Sfu(LOOPBACK)
    room = sfu.room("malformed")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await bob.wait_for_frames("video", 5) >= 5
        fast_path = alice.participant._publish_pc.fast_path  # type: ignore[union-attr]
        assert fast_path is not None
        pair = fast_path._connection._nominated[1]
        port = pair.protocol.transport.get_extra_info("sockname")[1]
        datagram = short_priority_binding_request()
        assert len(datagram) == 28
        capfd.readouterr()  # what the call's set-up printed is not under test

        with (
            structlog.testing.capture_logs() as logs,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as attacker,
        ):
            for burst in range(COUNT // 100):
                for _ in range(100):
                    attacker.sendto(datagram, ("127.0.0.1", port))
                if burst % 2:
                    await asyncio.sleep(0.01)  # within the socket's receive buffer
            assert await until(lambda: sfu.stats()["malformed_datagrams"] >= COUNT, 10)

        frames = bob.frames("video")
        assert await until(lambda: bob.frames("video") > frames + 10, 15), "media stopped"
        assert sfu.stats()["malformed_datagrams"] == COUNT
        assert f"visioguichet_sfu_malformed_datagrams_total {COUNT}" in render_prometheus(
            {"sfu": sfu.stats()}
        )
        [line] = [entry for entry in logs if entry["event"] == "sfu_malformed_datagram"]
        assert (line["room"], line["participant"], line["pc"]) == ("malformed", "alice", "publish")
        assert line["source"] == "127.0.0.1" and "struct.error" in line["error"]
        captured = capfd.readouterr()
        output = captured.out + captured.err
        assert "Traceback" not in output
        assert len(output) < 2_000, output[-2000:]
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
