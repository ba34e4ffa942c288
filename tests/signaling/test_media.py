"""Issue 2's media proof: two aiortc clients join through signalling and the SFU, each
publishing audio and video, and each decodes the other's frames (over 127.0.0.1).

Once with the SFU in this process, once through the real service process
(``visioguichet serve``), where the test process is the only one that decodes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np
import pytest
from aiortc import MediaStreamTrack
from av import AudioFrame, VideoFrame

from signaling.client import SignalingClient
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack
from tests.support.server import RunningService

RED = (220, 30, 30)
BLUE = (30, 30, 220)
DEADLINE_S = 45.0
VIDEO_FRAMES = 20
AUDIO_FRAMES = 50


async def decoded_video_colours(track: MediaStreamTrack, frames: int) -> list[np.ndarray]:
    colours = []
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, VideoFrame) and frame.width > 0 and frame.height > 0
        colours.append(frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0))
    return colours


async def loud_audio_frames(track: MediaStreamTrack, frames: int) -> int:
    loud = 0
    for _ in range(frames):
        frame = await track.recv()
        assert isinstance(frame, AudioFrame)
        if np.abs(frame.to_ndarray().astype(np.int32)).max() > 1000:
            loud += 1
    return loud


async def received(client: SignalingClient, other: str) -> tuple[list[np.ndarray], int]:
    video = await client.wait_track(other, "camera", timeout_s=DEADLINE_S)
    audio = await client.wait_track(other, "mic", timeout_s=DEADLINE_S)
    colours, loud = await asyncio.gather(
        decoded_video_colours(video, VIDEO_FRAMES), loud_audio_frames(audio, AUDIO_FRAMES)
    )
    return colours, loud


def assert_colour(mean: np.ndarray, expected: tuple[int, int, int]) -> None:
    assert np.allclose(mean, expected, atol=40), f"decoded colour {mean}, expected {expected}"


async def two_party_call(ws_url: str, mint: Callable[..., str], room: str) -> float:
    """Host and guest publish and each must decode the other; returns seconds taken."""
    host = SignalingClient(ws_url, ice_addresses=("127.0.0.1",))
    guest = SignalingClient(ws_url, ice_addresses=("127.0.0.1",))
    started = time.monotonic()
    try:
        async with asyncio.timeout(DEADLINE_S):
            await host.connect()
            await guest.connect()
            await host.join(mint(room=room, role="host", subject="agent-1", name="Claire"))
            await guest.join(mint(room=room, role="guest", subject="citizen-1", name="Jean"))
            await asyncio.gather(
                host.publish({"mic": ToneAudioTrack(440), "camera": ColourVideoTrack(RED)}),
                guest.publish({"mic": ToneAudioTrack(660), "camera": ColourVideoTrack(BLUE)}),
            )
            (host_sees, host_hears), (guest_sees, guest_hears) = await asyncio.gather(
                received(host, "citizen-1"), received(guest, "agent-1")
            )
    finally:
        await host.close()
        await guest.close()
    assert_colour(host_sees[-1], BLUE)
    assert_colour(guest_sees[-1], RED)
    assert host_hears >= AUDIO_FRAMES // 2, "the host hears (almost) no sound from the guest"
    assert guest_hears >= AUDIO_FRAMES // 2, "the guest hears (almost) no sound from the host"
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_clients_see_and_hear_each_other_through_the_in_process_sfu(
    harness: SignalingHarness,
) -> None:
    seconds = await two_party_call(harness.ws_url, harness.mint, "bk-media")
    print(f"in-process SFU: both decoded the other's media after {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_two_clients_see_and_hear_each_other_through_the_running_service(
    service: RunningService,
) -> None:
    seconds = await two_party_call(service.ws_url, service.mint, "bk-media-service")
    print(f"service process: both decoded the other's media after {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_publishing_is_announced_and_offered_to_the_others_with_what_each_mid_carries(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(role="guest", subject="citizen-1", name="Jean")
    async with asyncio.timeout(DEADLINE_S):
        sources = await host.publish({"mic": ToneAudioTrack(440), "camera": ColourVideoTrack(RED)})
        assert sorted(sources.values()) == ["camera", "mic"]
        announced = {
            (frame["participant_id"], frame["source"], frame["kind"])
            for frame in [await guest.next_frame("published") for _ in range(2)]
        }
        assert announced == {("agent-1", "mic", "audio"), ("agent-1", "camera", "video")}
        await guest.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
        offered = {(t.participant_id, t.source, t.kind) for t in guest.subscribed.values()}
        assert offered == announced
        await host.leave()
        left = await guest.next_frame("participant-left")
        assert left["participant_id"] == "agent-1"
    await harness.server.events.drain()
    left_events = [e.data for e in harness.listener.events if e.kind == "participant-left"]
    assert left_events == [{"participant_id": "agent-1", "role": "host", "reason": "leave"}]


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_media_flows_again_after_an_ice_restart_of_each_peer_connection(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(role="guest", subject="citizen-1", name="Jean")
    async with asyncio.timeout(DEADLINE_S):
        await host.publish({"mic": ToneAudioTrack(440), "camera": ColourVideoTrack(RED)})
        before = await guest.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
        await decoded_video_colours(before, 3)

        await guest.restart_ice("subscribe")
        while not (await guest.next_frame("offer")).get("restart"):
            pass  # the offers from before the restart are still queued
        after = await wait_for_new_track(guest, before)
        assert_colour((await decoded_video_colours(after, 5))[-1], RED)

        await host.restart_ice("publish")
        # the stream comes back on the m-line that carried it (reused, the same track
        # object on the client) with its numbering continued: frames decode again
        again = await guest.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
        await drain(again)
        colours = await decoded_video_colours(again, 5)
        assert_colour(colours[-1], RED)


async def drain(track: MediaStreamTrack) -> None:
    """Skip the frames a track has already queued (they may predate a restart)."""
    while True:
        try:
            await asyncio.wait_for(track.recv(), 0.03)
        except TimeoutError:
            return


async def wait_for_new_track(client: SignalingClient, old: MediaStreamTrack) -> MediaStreamTrack:
    while True:
        track = await client.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
        if track is not old:
            return track
        await asyncio.sleep(0.05)


async def frames_within(track: MediaStreamTrack, window_s: float) -> int:
    """How many frames the track yields in a time window (0 if it is silent)."""
    count = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + window_s
    while (left := end - loop.time()) > 0:
        try:
            await asyncio.wait_for(track.recv(), left)
        except TimeoutError:
            break
        count += 1
    return count


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_set_quality_audio_only_stops_video_keeps_audio_and_auto_brings_video_back(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(role="guest", subject="citizen-1", name="Jean")
    async with asyncio.timeout(DEADLINE_S):
        await host.publish({"mic": ToneAudioTrack(440), "camera": ColourVideoTrack(RED)})
        video = await guest.wait_track("agent-1", "camera", timeout_s=DEADLINE_S)
        audio = await guest.wait_track("agent-1", "mic", timeout_s=DEADLINE_S)
        await decoded_video_colours(video, 3)

        await guest.set_quality("audio-only")
        await frames_within(video, 1.0)  # what was already on its way
        video_paused, audio_meanwhile = await asyncio.gather(
            frames_within(video, 1.5), loud_audio_frames(audio, 40)
        )
        assert video_paused == 0, "video still arrives in audio-only mode"
        assert audio_meanwhile >= 20, "audio must keep flowing in audio-only mode"

        await guest.set_quality("auto")
        assert_colour((await decoded_video_colours(video, 3))[-1], RED)


@pytest.mark.slow
@pytest.mark.timeout(60)
async def test_the_one_who_speaks_is_announced_as_active_speaker(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(role="guest", subject="citizen-1", name="Jean")
    async with asyncio.timeout(DEADLINE_S):
        await guest.publish({"mic": ToneAudioTrack(660)})
        for client in (host, guest):
            speaker = await client.next_frame("active-speaker", timeout_s=DEADLINE_S)
            assert speaker["participant_id"] == "citizen-1"
