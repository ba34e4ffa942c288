"""Simulcast through the SFU with real aiortc peers: one producer, three layers by rid,
and a subscriber whose stream switches layers on keyframes without a broken picture."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.sfu_loopback_client import LoopbackClient, ReceivedTrack
from bench.simulcast_publisher import LAYER_WIDTHS, SimulcastPublisher
from sfu import Room, RoomListenerBase, Sfu, SfuConfig
from sfu.producer import Producer
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",),
    allowed_remote_networks=("127.0.0.0/8",),
    layer_up_hold_s=1.0,
)


async def test_layers_are_routed_by_rid_and_a_subscriber_switches_between_them() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-simulcast")
    publisher = SimulcastPublisher(room.add_participant("agent"))
    viewer = LoopbackClient(room.add_participant("citizen"))
    try:
        await publisher.publish()
        camera = await _producer(room, "agent", "camera")
        assert [layer.rid for layer in camera.layers] == ["q", "h", "f"]
        assert await until(lambda: all(layer.ssrc for layer in camera.layers), 10)
        assert {layer.ssrc for layer in camera.layers} == {layer.ssrc for layer in publisher.layers}

        # a layer's RTX stream is unknown to the SDP: its repaired rid names the layer
        assert await until(lambda: len(publisher.layer("h").sent) >= 5, 5)
        before = camera.layers[1].packets
        assert await publisher.retransmit("h", 5) == 5
        assert await until(lambda: camera.layers[1].packets >= before + 5, 5)
        assert camera.rtx_primary_ssrcs() == {publisher.layer("h").rtx_ssrc: camera.layers[1].ssrc}

        assert await viewer.sync_subscription()
        video = await _video_track(viewer)
        # a 1:1 call on a clean link starts on the top layer
        assert await until(lambda: video.width == LAYER_WIDTHS["f"], 20), video.widths

        viewer.participant.set_video_cap(mode="auto", max_layer=0)
        assert await until(lambda: video.width == LAYER_WIDTHS["q"], 20), video.widths
        assert viewer.participant.link.current("agent").layer == 0
        frames_on_q = video.frames
        assert await until(lambda: video.frames > frames_on_q + 15, 10)

        viewer.participant.set_video_cap(mode="auto", max_layer=1)
        assert await until(lambda: video.width == LAYER_WIDTHS["h"], 30), video.widths
        frames_on_h = video.frames
        assert await until(lambda: video.frames > frames_on_h + 15, 10)

        # every decoded picture had one of the layer sizes: no broken frame in between
        assert set(video.widths) <= set(LAYER_WIDTHS.values())
        widths = video.widths[video.widths.index(LAYER_WIDTHS["f"]) :]
        assert widths == [LAYER_WIDTHS["f"], LAYER_WIDTHS["q"], LAYER_WIDTHS["h"]]
        assert sfu.stats()["totals"]["layer_switches"] >= 2
        assert publisher.layer("q").keyframe_requests >= 1
        assert publisher.layer("h").keyframe_requests >= 1
    finally:
        await publisher.close()
        await viewer.close()
        await sfu.close()


async def _producer(room: Room, participant_id: str, source: str) -> Producer:
    participant = room.get_participant(participant_id)
    assert participant is not None
    assert await until(lambda: source in participant.producers, 10)
    return participant.producers[source]


async def _video_track(client: LoopbackClient) -> ReceivedTrack:
    assert await until(
        lambda: any(r.kind == "video" and r.frames > 0 for r in client.received.values()), 20
    )
    return next(r for r in client.received.values() if r.kind == "video")


class _SendLayers(RoomListenerBase):
    """Hands the SFU's dynacast requests to the publisher, as signalling does to a page."""

    def __init__(self, publisher: SimulcastPublisher) -> None:
        self.publisher = publisher
        self.requests: list[dict[str, bool]] = []

    def on_send_layers(
        self, room: Room, participant_id: str, source: str, layers: dict[str, bool]
    ) -> None:
        if participant_id == "agent" and source == "camera":
            self.requests.append(layers)
            self.publisher.send_layers(layers)


async def test_layers_nobody_receives_stop_at_the_publisher_and_start_again_when_wanted() -> None:
    sfu = Sfu(replace(CONFIG, suspend_unused_layers_after_s=1.0))
    room = sfu.room("bk-dynacast")
    publisher = SimulcastPublisher(room.add_participant("agent"))
    viewer = LoopbackClient(room.add_participant("citizen"))
    requests = _SendLayers(publisher)
    room.add_listener(requests)
    try:
        await publisher.publish()
        camera = await _producer(room, "agent", "camera")
        assert await viewer.sync_subscription()
        video = await _video_track(viewer)
        assert await until(lambda: video.width == LAYER_WIDTHS["f"], 20), video.widths
        assert camera.requested_layers() == {"q": True, "h": True, "f": True}

        # capped to the lowest layer: the two above stop at the publisher, once the
        # delay has passed, and the viewer's picture goes on
        viewer.participant.set_video_cap(mode="auto", max_layer=0)
        assert await until(lambda: video.width == LAYER_WIDTHS["q"], 20), video.widths
        only_lowest = {"q": True, "h": False, "f": False}
        assert await until(lambda: requests.requests[-1:] == [only_lowest], 10)
        assert [layer.suspended for layer in camera.layers] == [False, True, True]
        stopped = publisher.layer("f").packets_sent
        frames = video.frames
        assert await until(lambda: video.frames > frames + 15, 10)
        assert publisher.layer("f").packets_sent == stopped
        # nothing arrives on them, yet they stay selectable at what they carried
        assert await until(lambda: camera.layers[2].bitrate_bps == 0.0, 5)
        assert all(rate > 0 for rate in camera.layer_bitrates())

        # the cap lifted: the viewer steps up, each layer is asked for as it is wanted,
        # restarts on a keyframe and the picture comes back to the top
        viewer.participant.set_video_cap(mode="auto")
        assert await until(lambda: video.width == LAYER_WIDTHS["f"], 30), video.widths
        assert requests.requests[-1] == {"q": True, "h": True, "f": True}
        assert not any(layer.suspended for layer in camera.layers)
        assert publisher.layer("f").packets_sent > stopped
        assert set(video.widths) <= set(LAYER_WIDTHS.values())  # never a broken picture
    finally:
        await publisher.close()
        await viewer.close()
        await sfu.close()
