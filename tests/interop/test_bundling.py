"""Only bundled, RTCP-multiplexed connections: an offer or answer laid out otherwise
(``bundle-policy`` balanced or max-compat left unbundled, ``rtcp-mux-policy``
negotiate) is refused at once with a sentence naming the fix, and the client can go on
with a bundled one. aiortc alone answered an unbundled offer with a BUNDLE group of its
own: video arrived, audio did not."""

from __future__ import annotations

import pytest
from aiortc import RTCSessionDescription

from signaling.client import SignalingClient, SignalingError
from tests.signaling.conftest import SignalingHarness
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack


def without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.splitlines() if not line.startswith(prefix)) + "\r\n"


async def offer(client: SignalingClient) -> str:
    pc = client._new_peer_connection()
    client.publish_pc = pc
    pc.addTransceiver(ToneAudioTrack(440.0), direction="sendonly")
    pc.addTransceiver(ColourVideoTrack((200, 0, 0)), direction="sendonly")
    client._pin_addresses(pc)
    await pc.setLocalDescription(await pc.createOffer())
    return str(pc.localDescription.sdp)


@pytest.mark.parametrize(
    ("dropped", "named"),
    [("a=group:BUNDLE", "a=group:BUNDLE"), ("a=rtcp-mux", "rtcp-mux")],
)
async def test_an_unbundled_publish_offer_is_refused_with_the_reason(
    harness: SignalingHarness, dropped: str, named: str
) -> None:
    client = await harness.joined()
    sdp = await offer(client)
    with pytest.raises(SignalingError) as refused:
        await client.request(
            {
                "type": "publish",
                "sdp": without(sdp, dropped),
                "sources": {"0": "mic", "1": "camera"},
            }
        )
    assert refused.value.code == "bad-field" and refused.value.field == "sdp"
    assert named in refused.value.frame["message"]
    # the same offer bundled is then taken: nothing was left half-set
    reply = await client.request(
        {"type": "publish", "sdp": sdp, "sources": {"0": "mic", "1": "camera"}}
    )
    assert client.publish_pc is not None
    await client.publish_pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
    assert "a=group:BUNDLE 0 1" in reply["sdp"]


async def test_an_unbundled_subscribe_answer_is_refused_with_the_reason(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.client()
    guest._offers = type(guest._offers)(16)  # the test answers by hand
    guest._tasks[1].cancel()
    assert (await guest.join(harness.mint(role="guest", subject="citizen")))["type"] == "joined"
    await host.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack((0, 0, 200))})
    frame = await guest.next_frame("offer", timeout_s=20)
    pc = guest._new_peer_connection()
    await pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
    guest._pin_addresses(pc)
    await pc.setLocalDescription(await pc.createAnswer())
    try:
        with pytest.raises(SignalingError) as refused:
            await guest.request(
                {
                    "type": "answer",
                    "pc": "subscribe",
                    "sdp": without(pc.localDescription.sdp, "a=group:BUNDLE"),
                    "offer_id": frame["offer_id"],
                }
            )
        assert refused.value.code == "answer-refused"
        assert "a=group:BUNDLE" in refused.value.frame["message"]
    finally:
        await pc.close()
