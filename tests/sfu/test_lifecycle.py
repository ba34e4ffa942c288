"""Room and participant lifecycle through the public API, with a real SFU."""

from __future__ import annotations

from typing import Any

import pytest

from sfu import Participant, Room, RoomListenerBase, Sfu, SfuConfig


class Recorder(RoomListenerBase):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_participant_added(self, room: Room, participant: Participant) -> None:
        self.events.append(("added", participant.id))

    def on_participant_removed(self, room: Room, participant_id: str) -> None:
        self.events.append(("removed", participant_id))


class Exploding(RoomListenerBase):
    def on_participant_added(self, room: Room, participant: Participant) -> None:
        raise RuntimeError("listener bug")


async def test_participants_join_and_leave_with_listener_events() -> None:
    sfu = Sfu(SfuConfig(ice_addresses=("127.0.0.1",)))
    room = sfu.room("bk-1")
    assert sfu.room("bk-1") is room
    recorder = Recorder()
    room.add_listener(recorder)
    alice = room.add_participant("alice", app_data={"name": "Claire"})
    room.add_participant("bob")
    assert alice.dump()["app_data"] == {"name": "Claire"}
    with pytest.raises(ValueError):
        room.add_participant("alice")
    await room.remove_participant("alice")
    await room.remove_participant("alice")  # already gone: no-op
    assert recorder.events == [("added", "alice"), ("added", "bob"), ("removed", "alice")]
    assert list(room.participants) == ["bob"]
    await sfu.close()


async def test_a_failing_listener_is_logged_and_does_not_break_the_room() -> None:
    sfu = Sfu()
    room = sfu.room("bk-2")
    recorder = Recorder()
    room.add_listener(Exploding())
    room.add_listener(recorder)
    room.add_participant("alice")
    assert recorder.events == [("added", "alice")]
    await sfu.close()


async def test_closing_the_sfu_closes_rooms_and_participants() -> None:
    sfu = Sfu()
    room = sfu.room("bk-3")
    alice = room.add_participant("alice")
    await sfu.close()
    assert room.closed and alice.closed
    stats = sfu.stats()
    assert (stats["open_rooms"], stats["rooms"], stats["totals"]) == (0, {}, {})
    with pytest.raises(ValueError):
        await alice.publish("v=0\r\n")


async def test_bad_sdp_and_unknown_source_get_clear_errors() -> None:
    sfu = Sfu()
    alice = sfu.room("bk-4").add_participant("alice")
    with pytest.raises(ValueError):
        await alice.publish("hello")
    with pytest.raises(ValueError):
        await alice.subscription_answer("v=0\r\n")
    with pytest.raises(KeyError):
        await alice.unpublish("screen")
    with pytest.raises(ValueError):
        alice.set_video_cap(mode="loud")
    assert await alice.subscription_offer() is None
    assert "bk-4" in sfu.stats()["rooms"]
    await sfu.close()


async def test_answer_candidates_use_the_configured_address_and_port_range() -> None:
    from bench.sfu_loopback_client import LoopbackClient, free_udp_port_range

    low, high = free_udp_port_range(5)
    sfu = Sfu(
        SfuConfig(
            ice_addresses=("127.0.0.1",),
            udp_port_min=low,
            udp_port_max=high,
            announced_address="127.0.0.2",
            allowed_remote_networks=("127.0.0.0/8",),
        )
    )
    client = LoopbackClient(sfu.room("bk-ports").add_participant("alice"))
    try:
        await client.publish(video=False)
        assert client.publish_pc is not None and client.publish_pc.remoteDescription is not None
        answer = client.publish_pc.remoteDescription.sdp
        candidates = [
            line.split() for line in answer.splitlines() if line.startswith("a=candidate:")
        ]
        assert candidates
        for parts in candidates:
            assert parts[4] == "127.0.0.2"
            assert low <= int(parts[5]) <= high
        # a trickled candidate outside the allowed networks is ignored, not an error
        await client.participant.add_remote_candidate(
            "publish",
            {"candidate": "candidate:1 1 udp 2122260223 10.9.8.7 40000 typ host", "sdpMid": "0"},
        )
        with pytest.raises(ValueError):
            await client.participant.add_remote_candidate("sideways", {"candidate": "x"})
    finally:
        await client.close()
        await sfu.close()
