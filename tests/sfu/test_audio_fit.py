"""When even audio overflows a subscriber's link, its publishers are asked for less, one
step at a time, and the ask is withdrawn once video flows again (``sfu.audio_fit``)."""

from __future__ import annotations

import pytest

from bench.sfu_loopback_client import LoopbackClient
from sfu import Room, RoomListenerBase, Sfu, SfuConfig
from sfu.audio_fit import AUDIO_STEPS_BPS, STEP_HOLD_S, AudioFit
from sfu.consumer import Consumer

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))


def test_no_ask_while_video_flows_or_audio_arrives_without_a_queue() -> None:
    fit = AudioFit()
    # video flowing: a queue is the layer selection's business, not audio's
    assert not fit.update(0.0, audio_only=False, queue_s=0.5)
    # audio only, arriving at once and whole: it fits
    assert not fit.update(1.0, audio_only=True, queue_s=0.02)
    assert not fit.update(2.0, audio_only=True, queue_s=None)
    assert fit.cap_bps is None


def test_audio_behind_a_standing_queue_asks_for_the_first_step_at_once() -> None:
    fit = AudioFit()
    assert fit.update(0.0, audio_only=True, queue_s=0.55)
    assert fit.cap_bps == AUDIO_STEPS_BPS[0]


def test_lost_audio_alone_asks_nothing_random_loss_is_no_shortage() -> None:
    fit = AudioFit()
    assert not fit.update(0.0, audio_only=True, queue_s=0.0)
    assert not fit.update(1.0, audio_only=True, queue_s=None)
    assert fit.cap_bps is None


def test_a_queue_that_does_not_drain_takes_the_next_step_after_the_hold() -> None:
    fit = AudioFit()
    fit.update(0.0, audio_only=True, queue_s=0.5)
    # the publisher's encoder has not followed yet: no second step within the hold
    assert not fit.update(STEP_HOLD_S / 2, audio_only=True, queue_s=0.5)
    assert fit.cap_bps == AUDIO_STEPS_BPS[0]
    assert fit.update(STEP_HOLD_S + 0.1, audio_only=True, queue_s=0.48)
    assert fit.cap_bps == AUDIO_STEPS_BPS[1]
    # the lowest step is the floor
    assert not fit.update(10.0, audio_only=True, queue_s=0.5)
    assert fit.cap_bps == AUDIO_STEPS_BPS[-1]


def test_a_draining_queue_is_given_time() -> None:
    fit = AudioFit()
    fit.update(0.0, audio_only=True, queue_s=0.55)
    # 0.55 s of queue down to 0.3 s in two seconds: the first step is enough
    assert not fit.update(2.0, audio_only=True, queue_s=0.3)
    assert fit.cap_bps == AUDIO_STEPS_BPS[0]


def test_video_back_withdraws_the_ask() -> None:
    fit = AudioFit()
    fit.update(0.0, audio_only=True, queue_s=0.5)
    fit.update(2.0, audio_only=True, queue_s=0.5)
    assert fit.update(5.0, audio_only=False, queue_s=None)
    assert fit.cap_bps is None
    # and a later overflow starts again from the first step
    assert fit.update(9.0, audio_only=True, queue_s=0.4)
    assert fit.cap_bps == AUDIO_STEPS_BPS[0]


class _SendAudio(RoomListenerBase):
    """Records the SFU's asks of publishers' audio, as signalling relays them to pages."""

    def __init__(self) -> None:
        self.asks: list[tuple[str, str, int | None]] = []

    def on_send_audio(
        self, room: Room, participant_id: str, source: str, max_bitrate_bps: int | None
    ) -> None:
        self.asks.append((participant_id, source, max_bitrate_bps))


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_publisher_follows_the_lowest_ask_of_its_subscribers_until_they_leave() -> None:
    sfu = Sfu(LOOPBACK)
    room = sfu.room("bk-audio-fit")
    agent = LoopbackClient(room.add_participant("agent"))
    viewers = [LoopbackClient(room.add_participant(name)) for name in ("citizen", "relative")]
    listener = _SendAudio()
    room.add_listener(listener)
    try:
        await agent.publish(video=False)
        for viewer in viewers:
            assert await viewer.sync_subscription()
            await viewer.wait_for_packets("audio", 10)
        mic = room.participants["agent"].producers["mic"]
        citizen, relative = (
            room.participants[name].consumers[("agent", "mic")] for name in ("citizen", "relative")
        )

        def ask(consumer: Consumer, bps: int | None) -> None:
            consumer.audio_ask_bps = bps
            mic.audio_asks_changed()

        ask(citizen, 16_000)
        ask(relative, 12_000)
        ask(relative, None)  # the relative's link recovered: the citizen's ask remains
        ask(citizen, 16_000)  # unchanged: nothing more is said
        assert listener.asks == [
            ("agent", "mic", 16_000),
            ("agent", "mic", 12_000),
            ("agent", "mic", 16_000),
        ]
        assert mic.requested_audio_bps == 16_000
        # the subscriber whose link asked for less leaves: the ask is withdrawn
        await room.remove_participant("citizen")
        assert listener.asks[-1] == ("agent", "mic", None)
        assert mic.requested_audio_bps is None
    finally:
        for client in (agent, *viewers):
            await client.close()
        await sfu.close()
