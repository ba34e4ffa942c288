"""The adaptation benchmark counts a drop to any lower video layer, the lowest included."""

from __future__ import annotations

from bench.adaptation import below_top


def test_a_drop_to_the_lowest_layer_counts_and_audio_only_does_not() -> None:
    assert below_top(0)  # layer 0 is a layer, not "no layer"
    assert below_top(1)
    assert not below_top(2)
    assert not below_top(None)
