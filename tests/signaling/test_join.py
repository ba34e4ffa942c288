"""Joining: tokens are checked on the first frame, refusals name the reason, and a
refused join leaves the connection usable for a good one."""

from __future__ import annotations

import asyncio
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import signaling
from signaling.client import SignalingError
from tests.signaling.conftest import HarnessFactory, SignalingHarness
from visioguichet.join_token import JoinTokenSigner, Role


def tampered(token: str) -> str:
    """The token with its signature's first character changed: always a different
    signature (its last characters can already be the ones a blind overwrite writes)."""
    body, _, signature = token.partition(".")
    first = "B" if signature[0] == "A" else "A"
    return f"{body}.{first}{signature[1:]}"


async def test_valid_token_joins_the_room_of_the_token_with_its_role(
    harness: SignalingHarness,
) -> None:
    client = await harness.client()
    token = harness.mint(room="bk-41", role="host", subject="agent-3", name="Claire Martin")
    joined = await client.join(token)
    assert joined["type"] == "joined"
    assert joined["room"] == "bk-41"
    assert joined["role"] == "host"
    assert joined["participant_id"] == "agent-3"
    assert joined["name"] == "Claire Martin"
    assert joined["participants"] == []
    assert joined["protocol"] == 1


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda h: h.mint(ttl_s=-3600), "token-expired"),
        (
            lambda h: JoinTokenSigner(Ed25519PrivateKey.generate()).mint(
                room="room-1", role="host", subject="x", name="X", expires_at=time.time() + 60
            ),
            "token-invalid",
        ),
        (lambda h: "not-a-token", "token-malformed"),
        (lambda h: "bm90.bXNncGFjaw", "token-invalid"),
        (lambda h: tampered(h.mint()), "token-invalid"),
    ],
    ids=["expired", "forged", "malformed", "bad-signature", "tampered"],
)
async def test_bad_token_is_refused_with_its_code_and_a_good_join_still_works(
    harness: SignalingHarness, make_token: object, code: str
) -> None:
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.join(make_token(harness))  # type: ignore[operator]
    assert refused.value.code == code
    assert refused.value.frame.get("fatal") is None
    joined = await client.join(harness.mint())
    assert joined["type"] == "joined"
    assert harness.server.stats()["errors"][code] == 1


async def test_token_that_is_not_a_string_is_a_bad_field(harness: SignalingHarness) -> None:
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.request({"type": "join", "token": 42})
    assert (refused.value.code, refused.value.field) == ("bad-field", "token")


async def test_join_with_an_unknown_protocol_version_is_refused(harness: SignalingHarness) -> None:
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.request({"type": "join", "token": harness.mint(), "protocol": 2})
    assert (refused.value.code, refused.value.field) == ("bad-field", "protocol")


async def test_frames_before_join_are_refused_as_not_joined(harness: SignalingHarness) -> None:
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.request({"type": "chat", "text": "hello"})
    assert refused.value.code == "not-joined"
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_second_join_on_a_joined_connection_is_refused(harness: SignalingHarness) -> None:
    client = await harness.joined()
    with pytest.raises(SignalingError) as refused:
        await client.join(harness.mint())
    assert refused.value.code == "already-joined"


async def test_connection_without_join_is_closed_after_the_join_timeout(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(signaling.SignalingConfig(join_timeout_s=0.5))
    client = await harness.client()
    error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == "join-timeout"
    assert error["fatal"] is True
    await asyncio.wait_for(client.closed.wait(), 5)


async def test_same_participant_joining_twice_replaces_the_first_connection(
    harness: SignalingHarness,
) -> None:
    first = await harness.joined(subject="agent-1")
    observer = await harness.joined(subject="obs-1", role="observer")
    second = await harness.joined(subject="agent-1")
    error = await first.next_frame("error", timeout_s=5)
    assert (error["code"], error["fatal"]) == ("replaced", True)
    await asyncio.wait_for(first.closed.wait(), 5)
    left = await observer.next_frame("participant-left", timeout_s=5)
    assert left["participant_id"] == "agent-1"
    rejoined = await observer.next_frame("participant-joined", timeout_s=5)
    assert rejoined["participant"]["id"] == "agent-1"
    assert (await second.request({"type": "ping"}))["type"] == "pong"
    assert harness.server.stats()["participants"] == 2


class ClosedRooms:
    """A room admission as an integrator writes one: rooms it was told are closed."""

    def __init__(self) -> None:
        self.closed: dict[str, signaling.AdmissionRefused] = {}
        self.asked: list[tuple[str, str]] = []

    async def check(self, grant: signaling.Grant) -> None:
        self.asked.append((grant.room, grant.role))
        refusal = self.closed.get(grant.room)
        if refusal is not None:
            raise refusal


async def test_token_not_valid_yet_is_refused_saying_from_when(harness: SignalingHarness) -> None:
    opens = time.time() + 4 * 3600
    token = harness.signer.mint(
        room="bk-9", role="guest", subject="citizen-9", name="Jean Dupont",
        expires_at=opens + 3600, not_before=opens, lobby=True,
    )  # fmt: skip
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.join(token)
    assert refused.value.code == "token-not-yet-valid"
    assert refused.value.frame["not_before"] == pytest.approx(opens)
    assert refused.value.frame.get("fatal") is None
    assert "bk-9" not in harness.sfu.rooms


@pytest.mark.parametrize("role", ["host", "guest"])
async def test_genuine_token_of_a_closed_room_is_refused_and_opens_nothing(
    harness: SignalingHarness, role: Role
) -> None:
    admission = ClosedRooms()
    admission.closed["bk-5"] = signaling.AdmissionRefused(
        "booking-cancelled", "this appointment was cancelled"
    )
    harness.server.admission = admission
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.join(harness.mint(room="bk-5", role=role, subject=f"{role}-5", lobby=True))
    assert (refused.value.code, refused.value.field) == ("booking-cancelled", "token")
    assert refused.value.frame["message"] == "this appointment was cancelled"
    assert ("bk-5", role) in admission.asked
    assert "bk-5" not in harness.sfu.rooms
    assert harness.server.stats()["rooms"] == 0
    assert harness.server.stats()["errors"]["booking-cancelled"] == 1
    # Not fatal: the same connection may still join a room that is open.
    joined = await client.join(harness.mint(room="bk-6", role=role, subject=f"{role}-6"))
    assert joined["type"] == "joined"


async def test_too_early_refusal_says_from_when(harness: SignalingHarness) -> None:
    opens = time.time() + 3 * 3600
    admission = ClosedRooms()
    admission.closed["bk-8"] = signaling.AdmissionRefused(
        "too-early", "this appointment can be joined later", not_before=opens
    )
    harness.server.admission = admission
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.join(harness.mint(room="bk-8", role="guest", subject="c-8", lobby=True))
    assert refused.value.code == "too-early"
    assert refused.value.frame["not_before"] == pytest.approx(opens)


async def test_probe_of_a_closed_room_is_refused_before_any_media_room_opens(
    harness: SignalingHarness,
) -> None:
    admission = ClosedRooms()
    admission.closed["bk-4"] = signaling.AdmissionRefused(
        "booking-ended", "this appointment is over"
    )
    harness.server.admission = admission
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.request(
            {
                "type": "probe",
                "token": harness.mint(room="bk-4", role="guest", subject="c-4"),
                "sdp": "v=0",
                "sources": {"0": "camera"},
            }
        )
    assert (refused.value.code, refused.value.field) == ("booking-ended", "token")
    assert not any(room.startswith("probe-") for room in harness.sfu.rooms)


async def test_closing_a_live_room_ends_the_call_and_empties_the_lobby_with_the_reason(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined(room="bk-3", role="host", subject="agent-3")
    guest = await harness.joined(room="bk-3", role="guest", subject="citizen-3")
    waiting = await harness.client()
    assert (
        await waiting.join(harness.mint(room="bk-3", role="guest", subject="rel-3", lobby=True))
    )["type"] == "lobby-waiting"

    closed = await harness.server.close_room(
        "bk-3", code="booking-cancelled", message="this appointment was cancelled"
    )

    assert closed is True
    for member in (host, guest):
        end = await member.next_frame("end")
        assert (end["by"], end["reason"]) == (None, "booking-cancelled")
        assert end["message"] == "this appointment was cancelled"
    error = await waiting.next_frame("error")
    assert (error["code"], error["fatal"]) == ("booking-cancelled", True)
    for client in (host, guest, waiting):
        await asyncio.wait_for(client.closed.wait(), 5)
    assert "bk-3" not in harness.sfu.rooms
    assert harness.server.stats()["rooms"] == 0
    assert await harness.server.close_room("bk-3", code="booking-cancelled", message="x") is False


class ClosesAfterFirstAnswer:
    """A booking cancelled while a join was between its two questions to the admission."""

    def __init__(self) -> None:
        self.answers = 0

    async def check(self, grant: signaling.Grant) -> None:
        self.answers += 1
        if self.answers > 1:
            raise signaling.AdmissionRefused("booking-cancelled", "cancelled meanwhile")


async def test_room_closed_while_the_join_was_under_way_is_refused_and_not_left_open(
    harness: SignalingHarness,
) -> None:
    harness.server.admission = ClosesAfterFirstAnswer()
    client = await harness.client()
    with pytest.raises(SignalingError) as refused:
        await client.join(harness.mint(room="bk-2", role="host", subject="agent-2"))
    assert refused.value.code == "booking-cancelled"
    assert "bk-2" not in harness.sfu.rooms
    assert harness.server.stats()["rooms"] == 0
    assert harness.server.stats()["participants"] == 0


async def test_join_codecs_must_be_mime_types_including_vp8(harness: SignalingHarness) -> None:
    client = await harness.client()
    for codecs in (["video/H264"], "video/VP8", [""], ["video/VP8"] * 33):
        with pytest.raises(SignalingError) as refused:
            await client.request({"type": "join", "token": harness.mint(), "codecs": codecs})
        assert refused.value.code == "bad-field" and refused.value.field == "codecs"
    reply = await client.request(
        {"type": "join", "token": harness.mint(), "codecs": ["video/VP8", "video/H264"]}
    )
    assert reply["type"] == "joined"
    participant = harness.sfu.rooms["room-1"].participants[reply["participant_id"]]
    assert participant.video_decoders() == {"video/vp8", "video/h264"}
