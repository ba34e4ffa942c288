"""The whole bench chain runs for a few seconds at 2 calls and writes sane reports.

Runs the real commands (``python -m bench.capacity``, ``python -m bench.load``) as
users would, against the real service and, where it can be installed and run, Janus.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STEP_KEYS = (  # the figures issue #6 names, beside what explains them
    "calls", "pps_in", "pps_out", "sfu_cpu_pct", "us_per_packet", "join_p95_s", "loss",
    "late_packets", "generator_cpu_per_call_pct",
)  # fmt: skip

pytestmark = pytest.mark.slow


def _sfu_missing() -> str | None:
    """Why our service cannot carry calls in this tree (None when it can)."""
    try:
        import sfu
    except ImportError as exc:
        return f"the sfu package cannot be imported: {exc}"
    if not hasattr(sfu, "Sfu"):
        return "the sfu package has no Sfu yet (docs/sfu-api.md): our side cannot run"
    return None


needs_our_sfu = pytest.mark.skipif(_sfu_missing() is not None, reason=str(_sfu_missing()))


@pytest.fixture(scope="module")
def capacity_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("capacity")
    command = [
        sys.executable, "-m", "bench.capacity", "--steps", "2", "--seconds", "2",
        "--max-minutes", "2", "--out", str(out),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads((out / "capacity.json").read_text()), out


def _step(report: dict[str, Any], calls: int) -> dict[str, Any]:
    steps = [s for s in report["steps"] if s["calls"] == calls]
    assert steps, f"no step with {calls} calls in {report['steps']} (notes: {report['notes']})"
    return steps[0]


@needs_our_sfu
@pytest.mark.timeout(200)
def test_capacity_run_measures_our_sfu_forwarding_two_calls(
    capacity_report: tuple[dict[str, Any], Path],
) -> None:
    report, out = capacity_report
    step = _step(report, 2)
    for key in STEP_KEYS:
        assert step.get(key) is not None, f"{key} missing from {step} (notes: {report['notes']})"
    assert step["participants"] == 4
    assert step["pps_in"] > 100, step  # 4 bots × (50 audio + ~80 video packets/s)
    assert step["pps_out"] > 0.5 * step["pps_in"], step  # the SFU forwards what it gets
    assert step["sfu_cpu_pct"] > 0 and step["us_per_packet"] > 0
    assert 0 < step["join_p95_s"] < 30
    assert 0 <= step["loss"] < 0.2
    assert step["generator_cpu_per_call_pct"] > 0
    assert step["late_packets"] >= 0
    assert step["decoded_samples"] >= 1  # a received keyframe decoded: real VP8 went through
    phases = step["join_phases_p95_s"]  # where a join spends its time, in order
    assert list(phases) == ["ws", "join", "offer", "publish", "connect"], phases
    for phase, seconds in phases.items():  # each phase is part of every join
        assert 0 <= seconds <= step["join_p95_s"] + 0.002, (phase, phases, step["join_p95_s"])
    assert isinstance(report["capacity_calls"], int)
    if report["capacity_calls"]:
        assert report["projected_capacity_calls"] >= 1
        assert report["capacity_cpu_per_call_pct"] > 0
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu_model"]
    table = (out / "capacity.md").read_text()
    assert "| calls |" in table and "SFU CPU %" in table
    png = (out / "capacity.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5000


@pytest.mark.timeout(200)
def test_capacity_run_measures_janus_on_the_same_load(
    capacity_report: tuple[dict[str, Any], Path],
) -> None:
    report, _ = capacity_report
    unavailable = [n for n in report["notes"] if n.startswith("Janus could not run")]
    if unavailable:
        pytest.skip(unavailable[0])
    step = _step(report, 2)
    assert step["janus_cpu_pct"] > 0, step
    assert step["janus_us_per_packet"] > 0
    assert 0 <= step["janus_loss"] < 0.2
    if step.get("sfu_cpu_pct") is not None:
        assert step["cpu_per_call_ratio"] > 0


def _stats_rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as stats:
        return {row["Name"]: row for row in csv.DictReader(stats)}


@needs_our_sfu
@pytest.mark.timeout(120)
def test_locust_load_reports_join_time_and_received_media(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "bench.load", "--calls", "2", "--booking-users", "1",
        "--run-time", "10s", "--out", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (tmp_path / "locust.html").stat().st_size > 1000
    rows = _stats_rows(tmp_path / "locust_stats.csv")
    assert int(rows["join"]["Request Count"]) == 4, rows.keys()
    assert int(rows["join"]["Failure Count"]) == 0
    assert float(rows["join"]["Median Response Time"]) > 0
    kbps = rows["received kbps"]
    assert int(kbps["Request Count"]) >= 4  # every participant reports, the last interval too
    assert float(kbps["Average Response Time"]) > 50  # Opus + VP8 arrive, not a trickle
    for booking_step in ("/api/services", "/api/motifs/[id]/slots", "/api/bookings"):
        assert int(rows[booking_step]["Request Count"]) >= 1, (booking_step, rows.keys())
        assert int(rows[booking_step]["Failure Count"]) == 0, rows[booking_step]
    assert int(rows["/api/manage/[token]/cancel"]["Failure Count"]) == 0
    assert int(rows["/api/manage/[token]/cancel"]["Request Count"]) >= 1
