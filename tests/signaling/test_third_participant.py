"""A call of up to four: the agent, the citizen and two guests (an interpreter, a
relative). A fifth is refused with ``room-full``; each viewer says per participant which
layer its picture of them needs."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import SignalingError
from tests.signaling.conftest import SignalingHarness


async def test_a_fifth_participant_gets_a_fatal_room_full(harness: SignalingHarness) -> None:
    await harness.joined()
    await harness.joined(role="guest", subject="citizen-1", name="Lucie")
    await harness.joined(role="guest", subject="guest-interpreter", name="Interprète")
    waiting = await harness.client()
    assert (
        await waiting.join(
            harness.mint(role="guest", subject="guest-relative", name="Paul", lobby=True)
        )
    )["type"] == "lobby-waiting"

    fifth = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await fifth.join(harness.mint(role="guest", subject="guest-colleague", name="Zoé"))
    assert refused.value.code == "room-full"
    await asyncio.wait_for(fifth.closed.wait(), 5)


async def test_a_participant_coming_back_to_a_full_room_takes_its_own_place(
    harness: SignalingHarness,
) -> None:
    await harness.joined()
    await harness.joined(role="guest", subject="citizen-1", name="Lucie")
    await harness.joined(role="guest", subject="guest-2", name="Interprète")
    await harness.joined(role="guest", subject="guest-3", name="Paul")
    again = await harness.joined(role="guest", subject="guest-3", name="Paul")
    assert (await again.request({"type": "ping"}))["type"] == "pong"


async def test_a_viewer_names_the_layer_each_picture_needs(harness: SignalingHarness) -> None:
    agent = await harness.joined()
    await agent.send({"type": "set-quality", "mode": "audio-only"})
    await agent.send({"type": "set-quality", "participant_id": "citizen-1", "max_layer": 0})
    await agent.send({"type": "set-quality", "participant_id": "guest-2", "max_layer": 2})
    assert (await agent.request({"type": "ping"}))["type"] == "pong"
    room = harness.sfu.get_room("room-1")
    assert room is not None
    participant = room.get_participant("agent-1")
    assert participant is not None
    assert participant.link.wanted == {"citizen-1": 0, "guest-2": 2}
    # a tile's wish leaves the user's own choice (audio only) as it was
    assert participant.video_cap_mode == "audio-only"
    await agent.send({"type": "set-quality", "participant_id": "citizen-1"})
    assert (await agent.request({"type": "ping"}))["type"] == "pong"
    assert participant.link.wanted == {"guest-2": 2}

    with pytest.raises(SignalingError) as refused:
        await agent.request({"type": "set-quality", "participant_id": "x", "max_layer": 5})
    assert (refused.value.code, refused.value.field) == ("bad-field", "max_layer")


async def test_each_chat_message_is_reported_for_the_call_record(
    harness: SignalingHarness,
) -> None:
    agent = await harness.joined()
    await agent.chat("Votre numéro de dossier : 42")
    await harness.server.events.drain()
    (chat,) = [e for e in harness.listener.events if e.kind == "chat"]
    assert chat.room == "room-1"
    assert dict(chat.data) == {
        "participant_id": "agent-1",
        "role": "host",
        "name": "Claire Martin",
        "text": "Votre numéro de dossier : 42",
    }
