"""Clients that ask for the ``visioguichet.msgpack`` subprotocol get msgpack frames."""

from __future__ import annotations

import msgpack

from signaling.client import SignalingError
from tests.signaling.conftest import SignalingHarness


async def test_msgpack_subprotocol_is_negotiated_and_used_both_ways(
    harness: SignalingHarness,
) -> None:
    client = await harness.client(use_msgpack=True)
    assert client.subprotocol == "visioguichet.msgpack"
    joined = await client.join(harness.mint(room="bk-7"))
    assert (joined["type"], joined["room"]) == ("joined", "bk-7")
    chat = await client.chat("bonjour")
    assert (chat["type"], chat["text"]) == ("chat", "bonjour")


async def test_bad_msgpack_frame_gets_a_msgpack_error_and_the_connection_stays_usable(
    harness: SignalingHarness,
) -> None:
    client = await harness.client(use_msgpack=True)
    await client.join(harness.mint())
    await client.send_raw(msgpack.packb([1, 2]))
    error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == "bad-frame"
    try:
        await client.request({"type": "set-quality", "mode": "loud"})
    except SignalingError as refused:
        assert (refused.code, refused.field) == ("bad-field", "mode")
    else:
        raise AssertionError("a bad set-quality must be refused")
    assert (await client.request({"type": "ping"}))["type"] == "pong"


async def test_json_is_the_default_without_a_subprotocol(harness: SignalingHarness) -> None:
    client = await harness.client()
    assert client.subprotocol is None
    assert (await client.join(harness.mint()))["type"] == "joined"


async def test_msgpack_frame_with_binary_keys_is_a_bad_field_not_a_crash(
    harness: SignalingHarness,
) -> None:
    client = await harness.client(use_msgpack=True)
    await client.join(harness.mint())
    frame = {"type": "publish", "sdp": "v=0", "sources": {b"0": "mic"}, "id": "x1"}
    await client.send_raw(msgpack.packb(frame, use_bin_type=True))
    error = await client.next_frame("error", timeout_s=5)
    assert (error["code"], error["field"], error["ref"]) == ("bad-field", "sources", "x1")
    assert (await client.request({"type": "ping"}))["type"] == "pong"
