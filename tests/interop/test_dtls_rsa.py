"""DTLS with a peer whose certificate is RSA, in both roles: as DTLS server on its
publish connection (the SFU is always the DTLS client there) and as DTLS client on its
subscribe connection. aiortc alone offers ECDHE-ECDSA suites only and the first fails
with "no shared cipher"."""

from __future__ import annotations

import asyncio

from signaling.client import SignalingClient
from tests.interop.peers import RsaClient
from tests.interop.test_codec_policy import join
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack
from tests.signaling.test_media import assert_colour, decoded_video_colours, loud_audio_frames

RED = (220, 30, 30)
BLUE = (30, 30, 220)
DEADLINE_S = 45.0


async def test_a_peer_with_an_rsa_certificate_publishes_and_subscribes(
    harness: SignalingHarness,
) -> None:
    url = harness.ws_url
    rsa_peer = await join(harness, RsaClient(url, ice_addresses=("127.0.0.1",)), "gateway")
    browser = await join(
        harness, SignalingClient(url, ice_addresses=("127.0.0.1",)), "agent", role="host"
    )
    await rsa_peer.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack(RED)})
    await browser.publish({"camera": ColourVideoTrack(BLUE)})

    # the RSA peer's publish connection: it is the DTLS server, the SFU the client
    picture = await browser.wait_track(rsa_peer.participant_id, "camera", timeout_s=DEADLINE_S)
    sound = await browser.wait_track(rsa_peer.participant_id, "mic", timeout_s=DEADLINE_S)
    colours, loud = await asyncio.wait_for(
        asyncio.gather(decoded_video_colours(picture, 10), loud_audio_frames(sound, 50)),
        DEADLINE_S,
    )
    assert_colour(colours[-1], RED)
    assert loud >= 40
    assert rsa_peer.publish_pc is not None
    assert RsaClient.dtls_roles(rsa_peer.publish_pc) == {"server"}

    # its subscribe connection: it is the DTLS client, the SFU the server
    other = await rsa_peer.wait_track(browser.participant_id, "camera", timeout_s=DEADLINE_S)
    colours = await asyncio.wait_for(decoded_video_colours(other, 10), DEADLINE_S)
    assert_colour(colours[-1], BLUE)
    assert rsa_peer.subscribe_pc is not None
    assert RsaClient.dtls_roles(rsa_peer.subscribe_pc) == {"client"}
