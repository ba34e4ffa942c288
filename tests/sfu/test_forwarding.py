"""Two real aiortc clients through the SFU: each decodes the other's audio and video,
while the SFU itself never decodes, encodes or buffers (packet-level forwarding)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
import aiortc.rtcrtpsender as sender_module
import pytest

from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu._datapath import Ingress
from sfu.aiortc import NativeDatagramTransport

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))


class MediaMachinerySpy:
    """Records who builds a decoder, an encoder or a jitter buffer, by owner object."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.owners: dict[str, list[Any]] = {"decoder": [], "encoder": [], "jitter_buffer": []}
        real_decoder = receiver_module.get_decoder
        real_encoder = sender_module.get_encoder
        real_jitter = receiver_module.JitterBuffer
        spy = self

        def get_decoder(codec: Any) -> Any:
            # runs in the receiver's decoder thread: its output queue names the owner
            output_q = inspect.currentframe().f_back.f_locals.get("output_q")  # type: ignore[union-attr]
            spy.owners["decoder"].append(output_q)
            return real_decoder(codec)

        def get_encoder(codec: Any) -> Any:
            spy.owners["encoder"].append(inspect.currentframe().f_back.f_locals.get("self"))  # type: ignore[union-attr]
            return real_encoder(codec)

        def jitter_buffer(*args: Any, **kwargs: Any) -> Any:
            spy.owners["jitter_buffer"].append(inspect.currentframe().f_back.f_locals.get("self"))  # type: ignore[union-attr]
            return real_jitter(*args, **kwargs)

        monkeypatch.setattr(receiver_module, "get_decoder", get_decoder)
        monkeypatch.setattr(sender_module, "get_encoder", get_encoder)
        monkeypatch.setattr(receiver_module, "JitterBuffer", jitter_buffer)


def sfu_media_objects(sfu: Sfu) -> Iterator[Any]:
    """Every receiver and sender (and receiver's track queue) the SFU's connections own."""
    for room in sfu.rooms.values():
        for participant in room.participants.values():
            for pc in (participant._publish_pc, participant._subscribe_pc):
                if pc is None:
                    continue
                for transceiver in pc.getTransceivers():
                    yield transceiver.receiver
                    yield transceiver.sender
                    track = transceiver.receiver.track
                    if track is not None:
                        yield getattr(track, "_queue", None)


async def test_two_clients_decode_each_other_while_the_sfu_only_forwards_packets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = MediaMachinerySpy(monkeypatch)
    sfu = Sfu(LOOPBACK)
    room = sfu.room("bk-media")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 20) >= 20
        assert await bob.wait_for_frames("video", 20) >= 20
        assert await alice.wait_for_frames("audio", 50) >= 50
        assert await bob.wait_for_frames("audio", 50) >= 50
        assert {r.width for r in alice.received.values() if r.kind == "video"} == {320}

        ours = [o for o in sfu_media_objects(sfu) if o is not None]
        assert ours
        for what, owners in spy.owners.items():
            assert owners, f"the spy saw no {what} at all: it would prove nothing"
            assert not [o for o in owners if any(o is mine for mine in ours)], what

        stats = sfu.stats()["rooms"]["bk-media"]
        assert stats["packets_in"] > 0 and stats["packets_out"] > 0
        assert stats["bytes_out"] > 0

        # media took the fast path: SSRCs learnt there, nothing left in aioice's queue,
        # the sockets read by recvmmsg and nearly every packet forwarded without Python
        for participant in sfu.rooms["bk-media"].participants.values():
            publish_pc = participant._publish_pc
            assert publish_pc is not None and publish_pc.fast_path is not None
            fast_path = publish_pc.fast_path
            assert len(fast_path.receivers) >= 2
            assert len(fast_path.inlets) >= 2
            connection = fast_path.dtls.transport._connection
            assert connection._queue.qsize() == 0
            protocols = connection._protocols
            natives = [
                p.transport for p in protocols if isinstance(p.transport, NativeDatagramTransport)
            ]
            assert natives and len(natives) == len(protocols)
            received = sum(t.reader.datagrams for t in natives)
            native = fast_path.fast_packets
            producers = participant.producers.values()
            assert native >= 0.9 * sum(p.packets for p in producers) > 0
            assert received >= native
            # aiortc peers prefer AES-256-GCM: SRTP is the SFU's own srtp_aead both ways
            tx = fast_path.egress.tx
            assert tx is not None and tx.aead
            ingresses = [p.datagram_received for p in protocols]
            assert all(isinstance(i, Ingress) and i.rx is not None and i.rx.aead for i in ingresses)
            # each socket's reader holds that ingress: no attribute lookup per datagram
            assert all(t.reader.ingress is i for t, i in zip(natives, ingresses, strict=True))
    finally:
        await alice.close()
        await bob.close()
        await sfu.close()
