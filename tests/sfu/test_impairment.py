"""A subscriber on a bad downlink goes audio-only while its audio keeps flowing, another
subscriber keeps video, and video comes back once the link recovers.

The link is made bad with the SFU's in-process impairment shim (``sfu/impairment.py``):
this kernel has no ``netem``; the shim drops datagrams on the SFU's send path to one
subscriber only, enabled by test configuration.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.sfu_loopback_client import LoopbackClient
from sfu import Sfu, SfuConfig
from tests.support.quality_log import QualityLog
from tests.support.waiting import until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

HOLD_S = 2.0
CONFIG = SfuConfig(
    ice_addresses=("127.0.0.1",),
    allowed_remote_networks=("127.0.0.0/8",),
    allow_test_impairment=True,
    video_resume_hold_s=HOLD_S,
    loss_threshold=0.15,
)


async def test_impaired_subscriber_goes_audio_only_and_recovers_while_the_other_keeps_video() -> (
    None
):
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-impaired")
    quality = QualityLog()
    room.add_listener(quality)
    publisher = LoopbackClient(room.add_participant("agent"))
    impaired = LoopbackClient(room.add_participant("citizen"))
    healthy = LoopbackClient(room.add_participant("observer"))
    try:
        await publisher.publish()
        assert await until(lambda: len(list(room.producers())) == 2, 5)
        for client in (impaired, healthy):
            assert await client.sync_subscription()
        assert await impaired.wait_for_frames("video", 10) >= 10
        assert await healthy.wait_for_frames("video", 10) >= 10

        impaired.participant.set_test_impairment(loss=0.3)
        started = time.monotonic()
        assert await until(lambda: impaired.participant.link.audio_only, 10)
        went_audio_only_s = time.monotonic() - started
        report = quality.of("citizen")[-1]
        assert report.audio_only and report.publisher_id == "agent" and report.reason == "loss"
        assert report.layer is None

        audio_before = await impaired.packets_received("audio")
        video_before = impaired.frames("video")
        healthy_video_before = healthy.frames("video")
        await asyncio.sleep(2.5)
        # 50 packets/s, 30 % lost: about 85 arrive in 2.5 s
        audio_after = await impaired.packets_received("audio")
        assert audio_after > audio_before + 40, "audio must keep flowing"
        assert impaired.frames("video") <= video_before + 3, "video must be paused"
        assert healthy.frames("video") > healthy_video_before + 15
        assert not healthy.participant.link.audio_only
        assert not any(r.audio_only for r in quality.of("observer"))

        impaired.participant.set_test_impairment(loss=0.0)
        recovered_at = time.monotonic()
        assert await until(lambda: not impaired.participant.link.audio_only, HOLD_S + 10)
        video_back_s = time.monotonic() - recovered_at
        resumed_from = impaired.frames("video")
        assert await until(lambda: impaired.frames("video") > resumed_from + 10, 10)
        assert quality.of("citizen")[-1].reason == "recovered"
        assert went_audio_only_s < 10 and video_back_s < HOLD_S + 10
    finally:
        for client in (publisher, impaired, healthy):
            await client.close()
        await sfu.close()


async def test_user_can_force_audio_only_and_back() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-forced")
    quality = QualityLog()
    room.add_listener(quality)
    publisher = LoopbackClient(room.add_participant("agent"))
    viewer = LoopbackClient(room.add_participant("citizen"))
    try:
        await publisher.publish()
        assert await until(lambda: len(list(room.producers())) == 2, 5)
        assert await viewer.sync_subscription()
        assert await viewer.wait_for_frames("video", 10) >= 10
        viewer.participant.set_video_cap(mode="audio-only")
        assert quality.of("citizen")[-1].reason == "user"
        await asyncio.sleep(0.5)
        paused_at = viewer.frames("video")
        audio_at = viewer.frames("audio")
        await asyncio.sleep(1.5)
        assert viewer.frames("video") <= paused_at + 2
        assert viewer.frames("audio") > audio_at + 30
        viewer.participant.set_video_cap(mode="auto")
        assert await until(lambda: viewer.frames("video") > paused_at + 10, 10)
    finally:
        await publisher.close()
        await viewer.close()
        await sfu.close()
