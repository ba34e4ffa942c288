"""Screen sharing is a second video producer of a participant; the audio-level header
extension makes the speaking participant the room's active speaker."""

from __future__ import annotations

import asyncio
import time

import pytest

from bench.sfu_loopback_client import LoopbackClient
from sfu import Room, RoomListenerBase, Sfu, SfuConfig

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]

CONFIG = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))


class Events(RoomListenerBase):
    def __init__(self) -> None:
        self.producers: list[tuple[str, str, str]] = []
        self.speakers: list[str] = []

    def on_producer_added(self, room: Room, participant_id: str, source: str, kind: str) -> None:
        self.producers.append((participant_id, source, kind))

    def on_active_speaker(self, room: Room, participant_id: str) -> None:
        self.speakers.append(participant_id)


async def test_screen_share_reaches_the_viewer_as_its_own_track_and_the_speaker_is_named() -> None:
    sfu = Sfu(CONFIG)
    room = sfu.room("bk-screen")
    events = Events()
    room.add_listener(events)
    agent = LoopbackClient(room.add_participant("agent"))
    viewer = LoopbackClient(room.add_participant("citizen"))
    try:
        await agent.publish(screen=True)
        assert sorted(events.producers) == [
            ("agent", "camera", "video"),
            ("agent", "mic", "audio"),
            ("agent", "screen", "video"),
        ]
        assert await viewer.sync_subscription()
        assert viewer.last_offer is not None
        assert sorted((t.source, t.kind) for t in viewer.last_offer.tracks) == [
            ("camera", "video"),
            ("mic", "audio"),
            ("screen", "video"),
        ]
        source_of = {c.mid: c.producer.source for c in viewer.participant.consumers.values()}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            widths = {source_of.get(r.mid): r.width for r in viewer.received.values()}
            if widths.get("camera") and widths.get("screen"):
                break
            await asyncio.sleep(0.1)
        assert widths.get("camera") == 320
        assert widths.get("screen") == 640
        assert events.speakers and events.speakers[0] == "agent"
        assert room.dump()["active_speaker"] == "agent"
    finally:
        await agent.close()
        await viewer.close()
        await sfu.close()
