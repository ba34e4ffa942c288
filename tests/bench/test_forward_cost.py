"""``python -m bench.forward_cost`` runs as users run it and prints one sane JSON object."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_forward_cost_prints_every_variant_with_medians_and_instructions() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.forward_cost", "--calls", "1", "--seconds", "1",
         "--repeats", "2", "--instructions"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=220,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["calls"] == 1 and result["repeats"] == 2
    for loop in ("uvloop", "asyncio"):
        for kind in ("audio", "video"):
            key = f"{loop}_{kind}"
            assert 0 < result[f"{key}_us"] < 10_000, result
            assert result[f"{key}_pps"] > 50, result  # one call forwards both ways
            if perf_counts_instructions():
                assert 1 < result[f"{key}_kinstr_user"] < 1_000, result
                assert 1 < result[f"{key}_kinstr_kernel"] < 1_000, result


def test_forward_cost_refuses_nonsense_arguments() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.forward_cost", "--repeats", "0"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "--repeats" in done.stderr
