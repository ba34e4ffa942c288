"""Every bad frame gets an ``error`` naming what is wrong, and the connection stays
usable: each refusal here is followed by a good frame that must still work."""

from __future__ import annotations

import asyncio
import json

import msgpack
import pytest

import signaling
from signaling.client import SignalingClient
from tests.signaling.conftest import HarnessFactory, SignalingHarness


async def assert_still_usable(client: SignalingClient) -> None:
    assert (await client.request({"type": "ping"}))["type"] == "pong"


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ("{not json", "bad-frame", None),
        ("[1, 2, 3]", "bad-frame", None),
        ('"just a string"', "bad-frame", None),
        ('{"text": "no type"}', "bad-frame", "type"),
        ('{"type": 7}', "bad-frame", "type"),
        ('{"type": "nonsense"}', "unknown-type", None),
        ('{"type": "chat"}', "bad-field", "text"),
        ('{"type": "chat", "text": "   "}', "bad-field", "text"),
        ('{"type": "chat", "text": ["a"]}', "bad-field", "text"),
        ('{"type": "set-quality", "mode": "hd"}', "bad-field", "mode"),
        ('{"type": "set-quality", "mode": "auto", "max_layer": 7}', "bad-field", "max_layer"),
        ('{"type": "set-quality", "mode": "auto", "max_layer": true}', "bad-field", "max_layer"),
        ('{"type": "publish", "sdp": "v=0", "sources": {"0": "webcam"}}', "bad-field", "sources.0"),
        ('{"type": "publish", "sdp": "v=0", "sources": {}}', "bad-field", "sources"),
        ('{"type": "answer", "pc": "publish", "sdp": "v=0"}', "bad-field", "pc"),
        (
            '{"type": "answer", "pc": "subscribe", "sdp": "v=0", "offer_id": "1"}',
            "bad-field",
            "offer_id",
        ),
        ('{"type": "candidate", "pc": "side"}', "bad-field", "pc"),
        (
            '{"type": "candidate", "pc": "publish", "candidate": {"candidate": 3}}',
            "bad-field",
            "candidate.candidate",
        ),
        ('{"type": "restart-ice", "pc": 1}', "bad-field", "pc"),
        ('{"type": "unpublish", "source": "tv"}', "bad-field", "source"),
        ('{"type": "admit"}', "bad-field", "participant_id"),
        ('{"type": "ping", "id": 12}', "bad-field", "id"),
        ('{"type": "' + "x" * 5000 + '"}', "unknown-type", None),
        ("[" * 100_000 + "]" * 100_000, "too-large", None),
    ],
)
async def test_bad_frame_gets_an_error_and_the_connection_stays_usable(
    harness: SignalingHarness, raw: str, code: str, field: str | None
) -> None:
    client = await harness.joined()
    await client.send_raw(raw)
    error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == code, error
    assert error.get("field") == field
    assert "fatal" not in error
    assert error["message"]
    await assert_still_usable(client)


async def test_deeply_nested_json_is_a_bad_frame_not_a_crash(
    make_harness: HarnessFactory,
) -> None:
    harness = await make_harness(signaling.SignalingConfig(max_frame_bytes=200_000))
    client = await harness.joined()
    await client.send_raw("[" * 90_000 + "]" * 90_000)
    error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == "bad-frame"
    await assert_still_usable(client)


async def test_error_carries_the_id_of_the_refused_frame_as_ref(harness: SignalingHarness) -> None:
    client = await harness.joined()
    await client.send({"type": "chat", "text": "", "id": "c-17"})
    error = await client.next_frame("error", timeout_s=5)
    assert (error["code"], error["field"], error["ref"]) == ("bad-field", "text", "c-17")


async def test_binary_frame_on_a_json_connection_is_read_as_msgpack(
    harness: SignalingHarness,
) -> None:
    client = await harness.joined()
    await client.send_raw(msgpack.packb({"type": "ping", "id": "b1"}))
    pong = await client.next_frame("pong", timeout_s=5)
    assert pong["ref"] == "b1"
    await client.send_raw(b"\xc1\xff garbage")
    error = await client.next_frame("error", timeout_s=5)
    assert error["code"] == "bad-frame"
    await assert_still_usable(client)


async def test_flood_of_frames_is_rate_limited_then_recovers(make_harness: HarnessFactory) -> None:
    harness = await make_harness(signaling.SignalingConfig(rate_per_s=5.0, rate_burst=10))
    client = await harness.joined()
    for index in range(40):
        await client.send_raw(json.dumps({"type": "ping", "id": f"p{index}"}))
    replies = [await client.next_frame("pong", "error", timeout_s=5) for _ in range(40)]
    refused = [r for r in replies if r["type"] == "error"]
    assert refused, "40 frames at once with a burst of 10 must be rate limited"
    assert all(r["code"] == "rate-limited" for r in refused)
    assert sum(r["type"] == "pong" for r in replies) < 40
    await asyncio.sleep(1.0)
    await assert_still_usable(client)
    assert harness.server.stats()["errors"]["rate-limited"] == len(refused)


async def test_stats_count_frames_connections_and_errors_by_code(
    harness: SignalingHarness,
) -> None:
    client = await harness.joined()
    await client.send_raw('{"type": "nonsense"}')
    await client.next_frame("error", timeout_s=5)
    await assert_still_usable(client)
    stats = harness.server.stats()
    assert stats["connections"] == 1
    assert stats["participants"] == 1
    assert stats["rooms"] == 1
    assert stats["frames_in"] == 3
    assert stats["frames_out"] >= 3
    assert stats["errors"] == {"unknown-type": 1}


def test_a_text_frame_with_a_lone_surrogate_is_refused_as_bad_frame() -> None:
    from signaling.codec import decode_text
    from signaling.errors import FrameRefused

    for frame in (
        '{"type": "chat", "text": "a\\ud800b"}',
        '{"type": "chat", "text": "ok", "id": "\\udfff"}',
        '{"type": "file", "x": [{"y": ["\\ud83d"]}]}',
    ):
        try:
            decode_text(frame)
        except FrameRefused as refused:
            assert refused.code == "bad-frame"
        else:
            raise AssertionError(f"accepted {frame}")
    assert decode_text('{"type": "chat", "text": "\\ud83d\\ude00"}')["text"] == "😀"
