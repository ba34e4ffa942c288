"""The real-link bench reads a call from the page's records: frames presented, stats
samples, the SFU's quality frames. These are the readings, on hand-made records."""

from __future__ import annotations

from typing import Any

from bench.link import (
    concealed_share,
    first_after,
    longest_frame_gap,
    longest_gap_where,
    most_within,
    rises_into,
    seconds_without_audio,
    state_at,
    steady_from,
    time_in_states,
)


def quality(t: float, layer: int | None, audio_only: bool = False) -> dict[str, Any]:
    return {"t": t, "layer": layer, "audio_only": audio_only, "estimate_bps": 0}


def audio(t: float, received: int, concealed: int, packets: int) -> dict[str, Any]:
    return {
        "t": t,
        "video": None,
        "audio": {
            "totalSamplesReceived": received,
            "concealedSamples": concealed,
            "packetsReceived": packets,
        },
    }


def test_the_longest_gap_counts_from_the_last_frame_before_the_window_to_its_end() -> None:
    frames = [[0, 640], [100, 640], [700, 640], [800, 640]]
    assert longest_frame_gap(frames, 50, 900) == 0.6
    assert longest_frame_gap(frames, 750, 2000) == 1.2  # nothing after 800


def test_the_longest_gap_is_placed_with_the_widths_either_side() -> None:
    frames = [[0, 640], [100, 640], [700, 320], [800, 320]]
    assert longest_gap_where(frames, 50, 900) == (0.05, 640, 320)
    assert longest_gap_where(frames, 750, 2000) == (0.05, 320, 0)  # nothing after 800
    assert longest_gap_where([], 0, 1000) == (0.0, 0, 0)


def test_probes_are_counted_in_the_busiest_span() -> None:
    assert most_within([], 30.0) == 0
    assert most_within([12.0, 45.0], 30.0) == 1  # backed off 33 s
    assert most_within([40.0, 12.0, 20.0, 45.0], 30.0) == 3  # 12, 20, 40 within 30 s


def test_video_is_back_only_once_it_plays_on_not_at_a_stale_frame() -> None:
    stale = [[1000, 640], [1100, 640]]  # repaired leftovers, then nothing for 5 s
    playing = [[6000 + 50 * i, 160] for i in range(50)]  # 2.45 s of 160 px
    frames = stale + playing
    assert steady_from(frames, 0) == 6.0
    assert steady_from(frames, 0, width=640) is None
    assert steady_from(frames, 0, width=160) == 6.0


def test_the_sfu_decisions_read_as_a_step_function() -> None:
    frames = [quality(0, 2), quality(1000, 1), quality(3000, None, True), quality(4000, 0)]
    assert first_after(frames, 500, lambda q: q["layer"] is not None and q["layer"] < 2) == 0.5
    assert time_in_states(frames, 500, 5000) == {2: 0.5, 1: 2.0, -1: 1.0, 0: 1.0}
    assert state_at(frames, 3500) == -1
    assert state_at(frames, -1) is None


def test_only_a_rise_into_the_layer_counts_as_a_switch_up() -> None:
    frames = [quality(0, 2), quality(1000, 1), quality(2000, 2), quality(3000, 2)]
    assert rises_into(frames, 0, 2) == 1
    assert rises_into(frames, 2500, 2) == 0


def test_concealment_is_a_share_of_the_samples_played_and_silence_is_counted() -> None:
    samples = [audio(0, 0, 0, 0), audio(1000, 48000, 4800, 50), audio(2000, 96000, 4800, 50)]
    assert concealed_share(samples, 0, 1000) == 0.1
    assert concealed_share(samples, 0, 2000) == 0.05
    assert seconds_without_audio(samples, 0, 2000) == 1  # no packet in the second second
