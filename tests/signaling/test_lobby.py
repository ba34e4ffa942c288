"""The lobby: a guest whose token says ``lobby`` waits until a host admits or denies."""

from __future__ import annotations

import asyncio

import pytest

from signaling.client import SignalingError
from tests.signaling.conftest import Grant, SignalingHarness

GUEST: Grant = {"role": "guest", "subject": "citizen-41", "name": "Jean Dupont", "lobby": True}


async def test_admitted_guest_joins_and_everybody_is_told(harness: SignalingHarness) -> None:
    host = await harness.joined()
    guest = await harness.client()
    waiting = await guest.join(harness.mint(**GUEST))
    assert waiting["type"] == "lobby-waiting"
    announced = await host.next_frame("lobby-waiting", timeout_s=5)
    assert announced["participant"] == {"id": "citizen-41", "name": "Jean Dupont"}

    with pytest.raises(SignalingError) as refused:
        await guest.chat("let me in")
    assert refused.value.code == "not-joined"

    await host.send({"type": "admit", "participant_id": "citizen-41"})
    joined = await guest.wait_admitted(timeout_s=5)
    assert joined["participant_id"] == "citizen-41"
    assert [p["id"] for p in joined["participants"]] == ["agent-1"]
    assert (await host.next_frame("lobby-left", timeout_s=5))["participant_id"] == "citizen-41"
    arrived = await host.next_frame("participant-joined", timeout_s=5)
    assert arrived["participant"]["role"] == "guest"
    await harness.server.events.drain()
    assert harness.listener.kinds()[-1] == "call-started"


async def test_guest_waiting_before_any_host_is_announced_when_a_host_arrives(
    harness: SignalingHarness,
) -> None:
    guest = await harness.client()
    assert (await guest.join(harness.mint(**GUEST)))["type"] == "lobby-waiting"
    host = await harness.joined()
    announced = await host.next_frame("lobby-waiting", timeout_s=5)
    assert announced["participant"]["id"] == "citizen-41"


async def test_denied_guest_gets_a_fatal_denied_and_is_disconnected(
    harness: SignalingHarness,
) -> None:
    host = await harness.joined()
    guest = await harness.client()
    await guest.join(harness.mint(**GUEST))
    await host.next_frame("lobby-waiting", timeout_s=5)
    await host.send({"type": "deny", "participant_id": "citizen-41"})
    error = await guest.next_frame("error", timeout_s=5)
    assert (error["code"], error["fatal"]) == ("denied", True)
    await asyncio.wait_for(guest.closed.wait(), 5)
    assert (await host.next_frame("lobby-left", timeout_s=5))["participant_id"] == "citizen-41"
    assert harness.server.stats()["lobby_waiting"] == 0


async def test_admitting_nobody_waiting_is_a_bad_field(harness: SignalingHarness) -> None:
    host = await harness.joined()
    with pytest.raises(SignalingError) as refused:
        await host.request({"type": "admit", "participant_id": "citizen-99"})
    assert (refused.value.code, refused.value.field) == ("bad-field", "participant_id")


async def test_only_hosts_decide_on_the_lobby(harness: SignalingHarness) -> None:
    await harness.joined()
    other_guest = await harness.joined(role="guest", subject="citizen-2", name="Ana")
    waiting = await harness.client()
    await waiting.join(harness.mint(**GUEST))
    with pytest.raises(SignalingError) as refused:
        await other_guest.request({"type": "admit", "participant_id": "citizen-41"})
    assert refused.value.code == "forbidden"


async def test_admitted_guest_who_reconnects_skips_the_lobby(harness: SignalingHarness) -> None:
    host = await harness.joined()
    guest = await harness.client()
    await guest.join(harness.mint(**GUEST))
    await host.next_frame("lobby-waiting", timeout_s=5)
    await host.send({"type": "admit", "participant_id": "citizen-41"})
    await guest.wait_admitted(timeout_s=5)
    await guest.close()
    await host.next_frame("participant-left", timeout_s=5)
    again = await harness.client()
    assert (await again.join(harness.mint(**GUEST)))["type"] == "joined"
