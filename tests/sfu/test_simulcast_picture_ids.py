"""A subscriber switched between simulcast layers receives one continuous VP8 numbering.

Real aiortc peers: a three-layer publisher whose layers start their PictureIDs at
random (as Chrome's do) and write them in 7 or 15 bits (as aiortc does, by value), and
a subscriber whose receiver records the payload descriptor of every packet it gets.
Across f → q → h → f, each new picture must be the previous one + 1.
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import Any

import pytest

from bench.sfu_loopback_client import LoopbackClient, ReceivedTrack
from bench.simulcast_publisher import LAYER_WIDTHS, SimulcastPublisher
from sfu import Sfu, SfuConfig
from sfu.vp8_descriptor import parse
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",),
    allowed_remote_networks=("127.0.0.0/8",),
    layer_up_hold_s=1.0,
)


class PictureLog:
    """(sequence number, timestamp, PictureID, its width) of every VP8 packet received."""

    def __init__(self, transceiver: Any) -> None:
        receiver = transceiver.receiver
        self.payload_type = next(
            c.payloadType for c in transceiver._codecs if c.mimeType.lower() == "video/vp8"
        )
        self.packets: list[tuple[int, int, int, int]] = []
        original = receiver._handle_rtp_packet

        async def on_rtp(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload_type == self.payload_type:  # RTX is repair, not news
                descriptor = parse(packet.payload)
                if descriptor is not None and descriptor.picture_id is not None:
                    self.packets.append(
                        (
                            packet.sequence_number,
                            packet.timestamp,
                            descriptor.picture_id,
                            descriptor.picture_id_bits,
                        )
                    )
            await original(packet, arrival_time_ms=arrival_time_ms)

        receiver._handle_rtp_packet = on_rtp

    def jumps(self) -> list[tuple[int, int]]:
        """Each time a packet beyond the highest sequence number so far (not a
        retransmission) began a picture that was not the previous one + 1."""
        wrong: list[tuple[int, int]] = []
        highest = picture = None
        for seq, _, picture_id, _ in self.packets:
            if highest is not None and not 0 < (seq - highest) & 0xFFFF < 0x8000:
                continue  # a retransmission, or a packet overtaken
            highest = seq
            if picture is not None and picture_id not in (picture, (picture + 1) & 0x7FFF):
                wrong.append((picture, picture_id))
            picture = picture_id
        return wrong

    def timestamps_go_on(self) -> bool:
        pictures: dict[int, int] = {}
        for _, timestamp, picture_id, _ in self.packets:
            pictures.setdefault(picture_id, timestamp)
        stamps = list(pictures.values())
        return all(0 < (b - a) & 0xFFFFFFFF < 1 << 31 for a, b in itertools.pairwise(stamps))


def shows_width(track: ReceivedTrack, width: int) -> bool:
    return track.width == width


def shows_frames(track: ReceivedTrack, more_than: int) -> bool:
    return track.frames > more_than


async def test_a_subscriber_switching_layers_receives_continuous_picture_ids() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-picture-ids")
    publisher = SimulcastPublisher(room.add_participant("agent"))
    viewer = LoopbackClient(room.add_participant("citizen"))
    try:
        await publisher.publish()
        assert await viewer.sync_subscription()
        assert viewer.subscribe_pc is not None
        video = next(t for t in viewer.subscribe_pc.getTransceivers() if t.kind == "video")
        log = PictureLog(video)
        assert await until(
            lambda: any(r.kind == "video" and r.frames > 0 for r in viewer.received.values()), 20
        )
        track = next(r for r in viewer.received.values() if r.kind == "video")
        assert await until(lambda: track.width == LAYER_WIDTHS["f"], 20), track.widths

        for max_layer, rid in ((0, "q"), (1, "h"), (None, "f")):
            viewer.participant.set_video_cap(mode="auto", max_layer=max_layer)
            assert await until(partial(shows_width, track, LAYER_WIDTHS[rid]), 30), track.widths
            assert await until(partial(shows_frames, track, track.frames + 10), 10)

        assert sfu.stats()["totals"]["layer_switches"] >= 3
        assert len({picture for _, _, picture, _ in log.packets}) > 60
        assert {bits for *_, bits in log.packets} == {15}
        assert log.jumps() == []
        assert log.timestamps_go_on()
    finally:
        await publisher.close()
        await viewer.close()
        await sfu.close()
