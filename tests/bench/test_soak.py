"""The soak: a short real run passes and writes its reports; its verdict catches a leak of
one descriptor or task per call, and lets flat figures with noise pass."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.soak import Bounds, Sample, SoakRun, analyse, verdict

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run_with(values: list[tuple[int, int, int]], cycle_s: float = 5.0) -> SoakRun:
    run = SoakRun(cycles=len(values))
    for index, (rss, fds, tasks) in enumerate(values):
        run.samples.append(Sample(index * cycle_s, rss, fds, tasks, idle=True))
        run.samples.append(Sample(index * cycle_s + 2, rss + 5000, fds + 6, tasks + 22, False))
    return run


def test_one_leaked_socket_per_call_fails_the_soak() -> None:
    run = _run_with([(120_000, 18 + cycle, 7) for cycle in range(12)])
    figures = analyse(run, warmup_s=10, bounds=Bounds())
    assert figures["fds"]["ok"] is False
    assert figures["fds"]["slope_per_min"] == pytest.approx(12.0)
    assert any(reason.startswith("fds grew") for reason in verdict(run, figures))


def test_one_leaked_task_per_call_fails_the_soak() -> None:
    run = _run_with([(120_000, 18, 7 + cycle) for cycle in range(12)])
    assert analyse(run, warmup_s=10, bounds=Bounds())["tasks"]["ok"] is False


def test_flat_figures_with_noise_and_a_busy_moment_pass() -> None:
    noise = [0, 300, -200, 100, 5000, 0, -100, 200, 0, 100, -300, 0]
    run = _run_with([(120_000 + n, 18 + (i == 4), 7 + (i == 4) * 3) for i, n in enumerate(noise)])
    figures = analyse(run, warmup_s=10, bounds=Bounds())
    assert verdict(run, figures) == [], figures


def test_failed_cycles_beyond_one_in_ten_fail_the_soak() -> None:
    run = _run_with([(120_000, 18, 7)] * 10)
    run.failed_cycles = 2
    assert verdict(run, analyse(run, 10, Bounds())) == ["2 of 10 cycles failed"]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_half_a_minute_of_calls_and_bookings_keeps_memory_descriptors_and_tasks_flat(
    tmp_path: Path,
) -> None:
    command = [sys.executable, "-m", "bench.soak", "--minutes", "0.5", "--out", str(tmp_path)]
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=170)
    report = json.loads((tmp_path / "soak.json").read_text())
    assert run.returncode == 0, (report["reasons"], report["run"]["errors"], run.stdout[-3000:])
    assert report["passed"] and report["run"]["cycles"] >= 3
    assert report["run"]["bookings"] == report["run"]["cancellations"] >= 3
    assert report["run"]["media_packets"] > 0
    for name in ("rss_kb", "fds", "tasks"):
        assert report["figures"][name]["samples"] >= 2, report["figures"]
    samples = report["run"]["samples"]
    assert any(not s["idle"] for s in samples)  # sampled during calls too
    assert "| fds |" in (tmp_path / "soak.md").read_text()
