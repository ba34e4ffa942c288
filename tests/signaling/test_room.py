"""Room life: chat, document offers, role checks, ``end`` and the call events."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import SignalingError
from tests.signaling.conftest import Grant, SignalingHarness
from visioguichet.join_token import Role

GUEST: Grant = {"role": "guest", "subject": "citizen-41", "name": "Jean Dupont"}


async def test_chat_is_echoed_to_its_sender_and_sent_to_the_room(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    echo = await guest.chat("Bonjour, vous m'entendez ?")
    assert echo["from"] == "citizen-41"
    assert echo["name"] == "Jean Dupont"
    assert echo["text"] == "Bonjour, vous m'entendez ?"
    received = await host.next_frame("chat", timeout_s=5)
    assert {k: received[k] for k in ("id", "from", "text", "ts")} == {
        k: echo[k] for k in ("id", "from", "text", "ts")
    }


async def test_chat_longer_than_the_limit_is_refused(harness: SignalingHarness) -> None:
    client = await harness.joined()
    assert (await client.chat("é" * 2000))["text"] == "é" * 2000
    with pytest.raises(SignalingError) as refused:
        await client.chat("é" * 2001)
    assert (refused.value.code, refused.value.field) == ("bad-field", "text")


async def test_document_offer_is_relayed_only_for_same_origin_api_paths(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    offer = {
        "type": "file",
        "url": "/api/bookings/41/documents/7",
        "name": "attestation.pdf",
        "size": 48213,
        "mime": "application/pdf",
    }
    echo = await host.request(offer)
    assert echo["url"] == "/api/bookings/41/documents/7"
    relayed = await guest.next_frame("file", timeout_s=5)
    assert (relayed["name"], relayed["from"], relayed["size"]) == (
        "attestation.pdf",
        "agent-1",
        48213,
    )
    for url in (
        "https://evil.example/api/x",
        "//evil.example/api/x",
        "/api/../admin",
        "/static/x.pdf",
        "javascript:alert(1)",
    ):
        with pytest.raises(SignalingError) as refused:
            await host.request({**offer, "url": url})
        assert (refused.value.code, refused.value.field) == ("bad-field", "url"), url
    with pytest.raises(SignalingError) as refused:
        await host.request({**offer, "name": "../../etc/passwd"})
    assert refused.value.field == "name"


@pytest.mark.parametrize(
    ("role", "frame"),
    [
        ("guest", {"type": "end"}),
        ("guest", {"type": "deny", "participant_id": "x"}),
        ("observer", {"type": "publish", "sdp": "v=0", "sources": {"0": "mic"}}),
        ("observer", {"type": "unpublish", "source": "mic"}),
        (
            "observer",
            {
                "type": "file",
                "url": "/api/d/1",
                "name": "a.pdf",
                "size": 1,
                "mime": "application/pdf",
            },
        ),
    ],
)
async def test_role_may_not_send_frames_of_other_roles(
    harness: SignalingHarness, role: Role, frame: dict[str, object]
) -> None:
    client = await harness.joined(role=role, subject=f"{role}-1")
    with pytest.raises(SignalingError) as refused:
        await client.request(frame)
    assert refused.value.code == "forbidden"
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_host_end_ends_the_call_for_everybody_and_closes_their_sockets(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    observer = await harness.joined(role="observer", subject="obs-1", name="Tutor")
    await host.send({"type": "end"})
    for client in (host, guest, observer):
        end = await client.next_frame("end", timeout_s=5)
        assert end["by"] == "agent-1"
        await asyncio.wait_for(client.closed.wait(), 5)
    late = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await late.join(harness.mint(**GUEST))
    assert (refused.value.code, refused.value.frame["fatal"]) == ("room-ended", True)
    await harness.server.events.drain()
    ended = [e for e in harness.listener.events if e.kind == "call-ended"]
    assert len(ended) == 1
    assert (ended[0].data["reason"], ended[0].data["by"]) == ("host-ended", "agent-1")
    assert harness.server.stats()["rooms"] == 0


async def test_call_events_follow_the_call_from_start_to_empty_room(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined(room="bk-9")
    guest = await harness.joined(**(GUEST | {"room": "bk-9"}))
    await guest.leave()
    await host.next_frame("participant-left", timeout_s=5)
    await host.leave()
    await harness.server.events.drain()
    assert harness.listener.kinds() == [
        "participant-joined",
        "participant-joined",
        "call-started",
        "participant-left",
        "participant-left",
        "call-ended",
    ]
    events = harness.listener.events
    assert all(e.room == "bk-9" for e in events)
    assert events[2].data == {"host_id": "agent-1", "guest_id": "citizen-41"}
    assert events[3].data["reason"] == "leave"
    assert events[5].data["reason"] == "empty"
    assert events[5].data["duration_s"] >= 0
    assert events[5].at >= events[2].at
    assert harness.server.stats()["rooms"] == 0


async def test_leaving_is_announced_to_the_others(harness: SignalingHarness) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    assert (await host.next_frame("participant-joined", timeout_s=5))["participant"]["id"] == (
        "citizen-41"
    )
    await guest.leave()
    assert (await host.next_frame("participant-left", timeout_s=5))["participant_id"] == (
        "citizen-41"
    )


async def test_set_quality_is_accepted_for_every_mode(harness: SignalingHarness) -> None:
    client = await harness.joined()
    for frame in (
        {"type": "set-quality", "mode": "audio-only"},
        {"type": "set-quality", "mode": "auto", "max_layer": 1},
        {"type": "set-quality", "mode": "auto"},
    ):
        await client.send(frame)
    assert (await client.request({"type": "ping"}))["type"] == "pong"
    assert "errors" not in harness.server.stats() or not harness.server.stats()["errors"]


async def test_server_close_disconnects_everybody_with_going_away_and_ends_the_call(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.joined(**GUEST)
    await harness.server.close()
    for client in (host, guest):
        await asyncio.wait_for(client.closed.wait(), 5)
        assert client.close_code == 1001
    assert harness.listener.kinds()[-1] == "call-ended"
    assert harness.listener.events[-1].data["reason"] == "shutdown"
    left = [e for e in harness.listener.events if e.kind == "participant-left"]
    assert {e.data["reason"] for e in left} == {"shutdown"}
    assert harness.server.stats()["connections"] == 0
    refused = await harness.client()
    await asyncio.wait_for(refused.closed.wait(), 5)
