"""Renegotiation stays bounded: a call with a flapping network (an hour of ICE
restarts and camera toggles, compressed) keeps its subscribe offers at the size of the
first, never sends an offer with no track, and media still flows at the end."""

from __future__ import annotations

import asyncio
from typing import Any

from signaling.client import SignalingClient
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack
from tests.signaling.test_media import assert_colour, decoded_video_colours, drain

RED = (220, 30, 30)
DEADLINE_S = 45.0
RESTARTS = 40  # publish ICE restarts: an hour with one every 90 s
TOGGLES = 20  # camera off and on again, every 3 min
SUBSCRIBE_RESTARTS = 4
# two frames per step: paced under the server's 20 frames/s per connection
PACE_S = 0.15


class RecordingClient(SignalingClient):
    """Keeps every subscribe offer it answered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offers: list[dict[str, Any]] = []
        self.answered = asyncio.Event()

    async def _answer_offer(self, frame: dict[str, Any]) -> None:
        self.offers.append(frame)
        await super()._answer_offer(frame)
        self.answered.set()


def m_sections(sdp: str) -> int:
    return sum(1 for line in sdp.splitlines() if line.startswith("m="))


async def both_tracks_offered(client: RecordingClient, publisher: str) -> None:
    """Wait for an answered offer carrying the publisher's mic and camera."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            client.answered.clear()
            if client.offers:
                sources = {
                    t["source"]
                    for t in client.offers[-1]["tracks"]
                    if t["participant_id"] == publisher
                }
                if sources == {"mic", "camera"}:
                    return
            await client.answered.wait()


async def test_an_hour_of_restarts_and_toggles_keeps_the_subscribe_sdp_bounded(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = RecordingClient(harness.ws_url, ice_addresses=("127.0.0.1",))
    await guest.connect()
    harness.clients.append(guest)
    assert (await guest.join(harness.mint(role="guest", subject="citizen-1")))["type"] == "joined"

    await host.publish({"mic": ToneAudioTrack(440), "camera": ColourVideoTrack(RED)})
    await both_tracks_offered(guest, "agent-1")
    first = guest.offers[-1]["sdp"]

    for _ in range(RESTARTS):
        await asyncio.sleep(PACE_S)
        await host.restart_ice("publish")
        await both_tracks_offered(guest, "agent-1")
    for _ in range(TOGGLES):
        await asyncio.sleep(PACE_S)
        await host.unpublish("camera")
        await host.publish({"camera": ColourVideoTrack(RED)})
        await both_tracks_offered(guest, "agent-1")
    for _ in range(SUBSCRIBE_RESTARTS):
        before = len(guest.offers)
        await guest.restart_ice("subscribe")
        async with asyncio.timeout(DEADLINE_S):
            while not any(o.get("restart") for o in guest.offers[before:]):
                guest.answered.clear()
                await guest.answered.wait()
        await both_tracks_offered(guest, "agent-1")

    sizes = [len(o["sdp"]) for o in guest.offers]
    assert all(o["tracks"] for o in guest.offers), "an offer with no track was sent"
    assert max(m_sections(o["sdp"]) for o in guest.offers) <= 2, [
        m_sections(o["sdp"]) for o in guest.offers
    ]
    assert max(sizes) <= len(first) * 1.2, (len(first), sizes)
    assert len(guest.offers) >= RESTARTS + TOGGLES

    camera = await guest.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
    await drain(camera)
    colours = await asyncio.wait_for(decoded_video_colours(camera, 5), DEADLINE_S)
    assert_colour(colours[-1], RED)
