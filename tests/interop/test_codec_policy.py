"""A room's codec policy (``sfu.codec_policy``): one H.264 publisher never silences a
subscriber that cannot decode H.264 — it gets the audio and the other streams, and a
``quality`` frame saying why; a publisher that can send VP8 is asked for VP8."""

from __future__ import annotations

import asyncio

from signaling.client import SignalingClient
from tests.interop.peers import FirefoxLikeNoH264Client, NoH264Client
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack
from tests.signaling.test_media import (
    assert_colour,
    decoded_video_colours,
    loud_audio_frames,
)

RED = (220, 30, 30)
GREEN = (30, 200, 30)
DEADLINE_S = 45.0


async def join(
    harness: SignalingHarness, client: SignalingClient, subject: str, role: str = "guest"
) -> SignalingClient:
    await client.connect()
    harness.clients.append(client)
    reply = await client.join(harness.mint(subject=subject, role=role))  # type: ignore[arg-type]
    assert reply["type"] == "joined", reply
    return client


def producer_codecs(harness: SignalingHarness) -> dict[tuple[str, str], str]:
    room = harness.sfu.rooms["room-1"]
    return {(p.participant_id, p.source): p.mime_type.lower() for p in room.producers()}


async def test_h264_only_publisher_leaves_a_vp8_subscriber_its_audio_and_other_video(
    harness: SignalingHarness,
) -> None:
    url = harness.ws_url
    subscriber = await join(
        harness,
        NoH264Client(url, ice_addresses=("127.0.0.1",), receive_codecs=("video/VP8",)),
        "citizen",
    )
    h264 = await join(
        harness,
        SignalingClient(url, ice_addresses=("127.0.0.1",), send_codecs=("video/H264",)),
        "agent",
        role="host",
    )
    vp8 = await join(harness, SignalingClient(url, ice_addresses=("127.0.0.1",)), "interpreter")
    await h264.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack(RED)})
    await vp8.publish({"camera": ColourVideoTrack(GREEN)})

    # the H.264 stream is forwarded as H.264 (nothing else was offered)...
    assert producer_codecs(harness)[(h264.participant_id, "camera")] == "video/h264"
    # ...and the subscriber is told why it gets none of its picture
    frame = await subscriber.next_frame("quality", timeout_s=DEADLINE_S)
    while frame.get("reason") != "codec-unsupported":
        frame = await subscriber.next_frame("quality", timeout_s=DEADLINE_S)
    assert frame["participant_id"] == h264.participant_id
    assert frame["audio_only"] is True and frame["layer"] is None
    assert harness.sfu.stats()["streams_not_decodable"] >= 1  # /metrics counts it

    audio = await subscriber.wait_track(h264.participant_id, "mic", timeout_s=DEADLINE_S)
    other = await subscriber.wait_track(vp8.participant_id, "camera", timeout_s=DEADLINE_S)
    loud, colours = await asyncio.wait_for(
        asyncio.gather(loud_audio_frames(audio, 50), decoded_video_colours(other, 10)),
        DEADLINE_S,
    )
    assert loud >= 40
    assert_colour(colours[-1], GREEN)
    assert subscriber.track(h264.participant_id, "camera") is None
    # the interpreter's aiortc decodes H.264 (its offer listed it): it gets the picture
    picture = await vp8.wait_track(h264.participant_id, "camera", timeout_s=DEADLINE_S)
    colours = await asyncio.wait_for(decoded_video_colours(picture, 10), DEADLINE_S)
    assert_colour(colours[-1], RED)


async def test_a_publisher_offering_h264_first_is_asked_for_vp8(
    harness: SignalingHarness,
) -> None:
    url = harness.ws_url
    subscriber = await join(
        harness,
        NoH264Client(url, ice_addresses=("127.0.0.1",), receive_codecs=("video/VP8",)),
        "citizen",
    )
    publisher = await join(
        harness,
        SignalingClient(url, ice_addresses=("127.0.0.1",), send_codecs=("video/H264", "video/VP8")),
        "agent",
        role="host",
    )
    await publisher.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack(RED)})

    assert producer_codecs(harness)[(publisher.participant_id, "camera")] == "video/vp8"
    video = await subscriber.wait_track(publisher.participant_id, "camera", timeout_s=DEADLINE_S)
    colours = await asyncio.wait_for(decoded_video_colours(video, 10), DEADLINE_S)
    assert_colour(colours[-1], RED)


async def test_an_h264_only_publisher_reaches_a_subscriber_that_decodes_h264(
    harness: SignalingHarness,
) -> None:
    url = harness.ws_url
    subscriber = await join(
        harness,
        SignalingClient(
            url, ice_addresses=("127.0.0.1",), receive_codecs=("video/VP8", "video/H264")
        ),
        "citizen",
    )
    publisher = await join(
        harness,
        SignalingClient(url, ice_addresses=("127.0.0.1",), send_codecs=("video/H264",)),
        "agent",
        role="host",
    )
    await publisher.publish({"camera": ColourVideoTrack(RED)})

    assert producer_codecs(harness)[(publisher.participant_id, "camera")] == "video/h264"
    assert harness.sfu.rooms["room-1"].video_codecs(
        harness.sfu.rooms["room-1"].participants[publisher.participant_id]
    ) == ["video/vp8", "video/h264"]
    video = await subscriber.wait_track(publisher.participant_id, "camera", timeout_s=DEADLINE_S)
    colours = await asyncio.wait_for(decoded_video_colours(video, 10), DEADLINE_S)
    assert_colour(colours[-1], RED)


async def test_an_answer_rejecting_the_h264_m_section_gets_a_fresh_offer_without_it(
    harness: SignalingHarness,
) -> None:
    url = harness.ws_url
    subscriber = await join(
        harness, FirefoxLikeNoH264Client(url, ice_addresses=("127.0.0.1",)), "citizen"
    )
    await subscriber.publish({"camera": ColourVideoTrack(GREEN)})  # offers VP8 and H.264
    publisher = await join(
        harness,
        SignalingClient(url, ice_addresses=("127.0.0.1",), send_codecs=("video/H264",)),
        "agent",
        role="host",
    )
    await publisher.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack(RED)})

    refused = await subscriber.next_frame("error", timeout_s=DEADLINE_S)
    assert refused["code"] == "answer-refused" and "video/h264" in refused["message"]
    frame = await subscriber.next_frame("quality", timeout_s=DEADLINE_S)
    while frame.get("reason") != "codec-unsupported":
        frame = await subscriber.next_frame("quality", timeout_s=DEADLINE_S)
    assert frame["participant_id"] == publisher.participant_id
    offer = await subscriber.next_frame("offer", timeout_s=DEADLINE_S)
    while not offer.get("restart"):
        offer = await subscriber.next_frame("offer", timeout_s=DEADLINE_S)
    assert [t["source"] for t in offer["tracks"]] == ["mic"]

    audio = await subscriber.wait_track(publisher.participant_id, "mic", timeout_s=DEADLINE_S)
    assert await asyncio.wait_for(loud_audio_frames(audio, 50), DEADLINE_S) >= 40
