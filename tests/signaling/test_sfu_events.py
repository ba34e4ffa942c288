"""The SFU's room events become frames for the participants concerned and call events
for the booking side (quality samples feed the share of time in audio-only)."""

from __future__ import annotations

import asyncio

import sfu
from signaling.sfu_events import CallRoomSfuListener
from tests.signaling.conftest import Grant, SignalingHarness

GUEST: Grant = {"role": "guest", "subject": "citizen-41", "name": "Jean Dupont"}


def report(*, audio_only: bool, layer: int | None, reason: str) -> sfu.QualityReport:
    return sfu.QualityReport(
        publisher_id="agent-1",
        layer=layer,
        audio_only=audio_only,
        reason=reason,
        estimate_bps=48_000,
        loss=0.12,
        rtt_ms=310.0,
    )


async def test_quality_reports_reach_the_subscriber_on_change_and_become_call_events(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    room = await harness.server.room_for("room-1", role="host")
    listener = CallRoomSfuListener(room)
    participant = room.sessions["citizen-41"].participant

    listener.on_quality(
        room.sfu_room, participant, report(audio_only=True, layer=None, reason="bandwidth")
    )
    frame = await guest.next_frame("quality", timeout_s=5)
    assert frame == {
        "type": "quality",
        "participant_id": "agent-1",
        "layer": None,
        "audio_only": True,
        "reason": "bandwidth",
        "estimate_bps": 48_000,
        "loss": 0.12,
        "rtt_ms": 310.0,
    }
    listener.on_quality(
        room.sfu_room, participant, report(audio_only=True, layer=None, reason="bandwidth")
    )
    listener.on_quality(
        room.sfu_room, participant, report(audio_only=False, layer=0, reason="recovered")
    )
    frame = await guest.next_frame("quality", timeout_s=5)
    assert (frame["audio_only"], frame["layer"]) == (False, 0), "the unchanged repeat is not sent"

    await harness.server.events.drain()
    samples = [e.data for e in harness.listener.events if e.kind == "quality"]
    assert [(s["audio_only"], s["layer"]) for s in samples] == [(True, None), (False, 0)]
    assert samples[0]["subscriber_id"] == "citizen-41"
    assert samples[0]["publisher_id"] == "agent-1"
    seen_by_host = []
    while not host.frames.empty():
        seen_by_host.append(host.frames.get_nowait()["type"])
    assert "quality" not in seen_by_host, "quality is for the subscriber only"


async def test_active_speaker_is_told_to_everybody(harness: SignalingHarness) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    room = await harness.server.room_for("room-1", role="host")
    CallRoomSfuListener(room).on_active_speaker(room.sfu_room, "citizen-41")
    for client in (host, guest):
        frame = await asyncio.wait_for(client.next_frame("active-speaker"), 5)
        assert frame["participant_id"] == "citizen-41"
