"""``python -m bench.forward_cost`` runs as users run it and prints one sane JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import relay_floor

REPO_ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def perf_counts_instructions() -> bool:
    """Whether ``perf stat`` can count instructions here (some virtual machines cannot)."""
    try:
        done = subprocess.run(
            ["perf", "stat", "-x", ",", "-e", "instructions:u", "true"],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "instructions" in done.stderr and "<not" not in done.stderr


def test_forward_cost_prints_every_variant_at_every_load_with_medians() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.forward_cost", "--calls", "1,2", "--seconds", "0.7",
         "--repeats", "2", "--instructions", "--floor"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=220,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["calls"] == 1 and result["repeats"] == 2
    assert set(result["by_calls"]) == {"1", "2"}
    for calls, figures in result["by_calls"].items():
        for loop in ("uvloop", "asyncio"):
            for kind in ("audio", "video"):
                key = f"{loop}_{kind}"
                assert 0 < figures[f"{key}_us"] < 10_000, result
                # each call forwards both ways: audio 100 packets a second, video more
                assert figures[f"{key}_pps"] > 50 * int(calls), result
                if calls == "1":
                    assert result[f"{key}_us"] == figures[f"{key}_us"]  # the first load's
                # the bare relay ran at the same load; the ratio is paired run by run
                floor = figures[f"floor_{kind}_us"]
                assert 0 < floor < 10_000 and figures[f"floor_{kind}_pps"] > 0, result
                assert 0 < figures[f"{key}_over_floor"] < 1_000, result
                if perf_counts_instructions():
                    assert 1 < figures[f"{key}_kinstr_user"] < 1_000, result
                    assert 1 < figures[f"{key}_kinstr_kernel"] < 1_000, result


@pytest.mark.parametrize(
    ("arguments", "named"),
    [(["--repeats", "0"], "--repeats"), (["--calls", "10,0"], "--calls"),
     (["--calls", "ten"], "--calls")],
)  # fmt: skip
def test_forward_cost_refuses_nonsense_arguments(arguments: list[str], named: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.forward_cost", *arguments],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and named in done.stderr


def test_the_relay_floor_forwards_every_stream_and_refuses_nonsense() -> None:
    found = relay_floor.measure(streams=4, rate=100.0, seconds=0.5, size=200)
    assert 0 < found["us_per_packet"] < 10_000
    assert 300 < found["packets_per_s"] < 500  # 4 streams of 100 a second
    with pytest.raises(ValueError):
        relay_floor.measure(streams=0, rate=100.0, seconds=0.5, size=200)
