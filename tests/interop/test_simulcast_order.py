"""Simulcast layers are numbered by what they carry: a sender listing its encodings
highest first (``a=simulcast:send f;h;q``, legal and done by some SDKs) still gets the
largest picture as the top layer and the smallest as layer 0."""

from __future__ import annotations

import pytest

from bench.sfu_loopback_client import LoopbackClient
from bench.simulcast_publisher import LAYER_WIDTHS, SimulcastPublisher
from sfu import Sfu
from sfu.simulcast_order import order_by_picture, vp8_picture_size
from sfu.simulcast_sdp import parse_simulcast_offer
from tests.sfu.test_simulcast import CONFIG, _producer, _video_track
from tests.sfu.test_simulcast_sdp import _offer
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]


async def test_layers_listed_highest_first_still_make_the_top_layer_the_largest() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-simulcast-order")
    publisher = SimulcastPublisher(room.add_participant("agent"))
    publisher.layers.reverse()  # the offer lists f;h;q
    viewer = LoopbackClient(room.add_participant("citizen"))
    try:
        await publisher.publish()
        camera = await _producer(room, "agent", "camera")
        assert await until(lambda: [layer.rid for layer in camera.layers] == ["q", "h", "f"], 10)
        assert await until(lambda: all(layer.ssrc for layer in camera.layers), 10)
        for layer in camera.layers:
            assert layer.ssrc == publisher.layer(str(layer.rid)).ssrc

        assert await viewer.sync_subscription()
        video = await _video_track(viewer)
        # a clean link starts on the top layer: the largest picture
        assert await until(lambda: video.width == LAYER_WIDTHS["f"], 20), video.widths
        viewer.participant.set_video_cap(mode="auto", max_layer=0)
        assert await until(lambda: video.width == LAYER_WIDTHS["q"], 20), video.widths
        assert set(video.widths) <= set(LAYER_WIDTHS.values())
    finally:
        await publisher.close()
        await viewer.close()
        await sfu.close()


def test_a_vp8_keyframe_tells_its_picture_size() -> None:
    # descriptor with a 15-bit PictureID (S bit, partition 0), then a keyframe header
    descriptor = bytes([0x90, 0x80, 0x81, 0x23])
    frame = bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A]) + (640).to_bytes(2, "little")
    frame += (360 | 0x4000).to_bytes(2, "little")  # the top two bits are the scale
    assert vp8_picture_size(descriptor + frame) == (640, 360)
    inter = bytes([0x51]) + frame[1:]
    assert vp8_picture_size(descriptor + inter) is None
    assert vp8_picture_size(bytes([0x80, 0x80, 0x81, 0x23]) + frame) is None  # not a start
    assert order_by_picture(["f", "h", "q"], {"f": (640, 360), "h": (320, 180)}) is None
    assert order_by_picture(
        ["f", "h", "q"], {"f": (640, 360), "h": (320, 180), "q": (160, 90)}
    ) == ["q", "h", "f"]


def test_bitrate_restrictions_order_the_layers_when_sizes_are_not_given() -> None:
    sdp = _offer(
        "a=rid:hi send max-br=1500000\na=rid:lo send max-br=150000\n"
        "a=rid:mid send max-br=500000\na=simulcast:send hi;lo;mid\n"
    )
    assert parse_simulcast_offer(sdp)["0"].rids == ("lo", "mid", "hi")


def test_rids_without_a_simulcast_line_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="without a=simulcast"):
        parse_simulcast_offer(_offer("a=rid:q send\na=rid:f send\n"))
    assert parse_simulcast_offer(_offer("a=rid:q send\n")) == {}  # one rid: a restriction
