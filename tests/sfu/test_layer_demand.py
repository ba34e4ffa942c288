"""Dynacast: which simulcast encodings a publisher is asked to send, as a pure policy on
a simulated clock, and what a stopped layer costs a subscriber's layer selection."""

from __future__ import annotations

import struct

from sfu._datapath import Counters
from sfu.layer_demand import LayerDemand
from sfu.layers import RESUME_GRACE_S, Layer

FLOWED = (True, True, True)


def test_layers_above_the_highest_wanted_one_stop_after_the_delay() -> None:
    demand = LayerDemand(3, suspend_after_s=5.0)
    assert not demand.update(0.0, {0}, FLOWED)  # unwanted from now: not stopped yet
    assert not demand.update(4.9, {0}, FLOWED)
    assert demand.update(5.0, {0}, FLOWED)
    assert demand.active == [True, False, False]
    assert not demand.update(6.0, {0}, FLOWED)  # told once


def test_a_wanted_layer_starts_at_once_and_so_does_every_layer_under_it() -> None:
    demand = LayerDemand(3, suspend_after_s=5.0)
    demand.update(0.0, set(), FLOWED)
    demand.update(5.0, set(), FLOWED)  # nobody subscribes: only the lowest flows
    assert demand.active == [True, False, False]
    assert demand.update(5.1, {2}, FLOWED)
    assert demand.active == [True, True, True]  # a step down must find its layer flowing


def test_the_lowest_layer_and_a_layer_that_never_flowed_are_never_stopped() -> None:
    demand = LayerDemand(3, suspend_after_s=1.0)
    demand.update(0.0, set(), (True, True, False))
    demand.update(10.0, set(), (True, True, False))
    assert demand.active == [True, False, True]


def test_a_layer_wanted_again_before_the_delay_is_never_stopped_and_the_delay_restarts() -> None:
    demand = LayerDemand(3, suspend_after_s=5.0)
    demand.update(0.0, {1}, FLOWED)  # the top layer unwanted since 0
    demand.update(4.0, {2}, FLOWED)  # a subscriber steps back up
    demand.update(6.0, {1}, FLOWED)  # and down: the top layer unwanted since 6
    assert demand.active == [True, True, True]
    assert demand.update(11.0, {1}, FLOWED)
    assert demand.active == [True, True, False]


def test_layers_outside_the_producer_are_ignored() -> None:
    demand = LayerDemand(2, suspend_after_s=1.0)
    demand.update(0.0, {7, -1}, (True, True))
    demand.update(2.0, {7, -1}, (True, True))
    assert demand.active == [True, False]


def _packet(seq: int, size: int = 1000) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 3000, 0x1234) + bytes(size)


def _flowing_layer(now: float) -> Layer:
    layer = Layer(2, "f", Counters(), [])
    layer.adopt(0x1234, 0)
    layer.sample_bitrate(now)
    for seq in range(100):
        layer.inlet.deliver(_packet(seq), 0)
    layer.sample_bitrate(now + 1.0)
    return layer


def test_a_stopped_layer_stays_selectable_at_the_bitrate_it_had() -> None:
    layer = _flowing_layer(0.0)
    carried = layer.selectable_bitrate(1.0)
    assert carried > 700_000 and layer.last_flowing_bps == carried
    layer.suspend()
    layer.sample_bitrate(2.0)  # nothing arrives any more
    assert layer.bitrate_bps == 0.0 and layer.rough_bitrate(2.0) == 0.0
    assert layer.selectable_bitrate(2.0) == carried


def test_a_stopped_layer_keeps_the_bitrate_it_had_when_asked_not_its_wind_down() -> None:
    layer = _flowing_layer(0.0)
    carried = layer.selectable_bitrate(1.0)
    layer.suspend()
    for seq in range(100, 110):  # the last frames before the encoder stops
        layer.inlet.deliver(_packet(seq), 0)
    layer.sample_bitrate(2.0)
    assert 0.0 < layer.bitrate_bps < 0.6 * carried  # smoothed toward the wind-down
    layer.sample_bitrate(3.0)
    assert layer.selectable_bitrate(3.0) == carried


def test_a_layer_that_stops_by_itself_is_not_selectable() -> None:
    layer = _flowing_layer(0.0)
    layer.sample_bitrate(2.0)  # the publisher's own estimate dropped it
    assert layer.selectable_bitrate(2.0) == 0.0


def test_a_restarted_layer_that_brings_nothing_within_the_grace_counts_as_never_flowed() -> None:
    layer = _flowing_layer(0.0)
    carried = layer.last_flowing_bps
    layer.suspend()
    layer.sample_bitrate(2.0)
    layer.resume(10.0)
    assert layer.selectable_bitrate(10.0 + RESUME_GRACE_S / 2) == carried  # encoder restarting
    layer.check_resumed(10.0 + RESUME_GRACE_S)
    assert layer.selectable_bitrate(10.0 + RESUME_GRACE_S) == 0.0
    assert layer.last_flowing_bps == 0.0  # LayerDemand will not stop it again


def test_a_restarted_layer_that_flows_again_keeps_its_measure() -> None:
    layer = _flowing_layer(0.0)
    layer.suspend()
    layer.sample_bitrate(2.0)
    layer.resume(10.0)
    for seq in range(100, 150):
        layer.inlet.deliver(_packet(seq), 0)
    layer.check_resumed(10.0 + RESUME_GRACE_S)
    assert layer.last_flowing_bps > 0.0
    layer.sample_bitrate(11.0)
    assert layer.selectable_bitrate(11.0) > 0.0
