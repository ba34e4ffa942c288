"""Capacity results as JSON, a markdown table and a plot of CPU and loss against calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MARKDOWN_COLUMNS: tuple[tuple[str, str], ...] = (
    ("calls", "calls"),
    ("pps_in", "pkt/s in"),
    ("pps_out", "pkt/s out"),
    ("sfu_cpu_pct", "SFU CPU %"),
    ("us_per_packet", "SFU µs/pkt"),
    ("join_p50_s", "join p50 s"),
    ("join_p95_s", "join p95 s"),
    ("loss", "loss"),
    ("late_packets", "late"),
    ("generator_cpu_per_call_pct", "gen CPU %/call"),
    ("janus_generator_cpu_per_call_pct", "gen CPU %/call (Janus run)"),
    ("janus_cpu_pct", "Janus CPU %"),
    ("janus_us_per_packet", "Janus µs/pkt"),
    ("janus_loss", "Janus loss"),
    ("cpu_per_call_ratio", "ours/Janus CPU per call"),
)


def write_json(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if value and abs(value) < 0.01:
            return f"{value:.2%}" if value < 1 else f"{value:.3g}"
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    steps = result.get("steps", [])
    used = [(k, title) for k, title in MARKDOWN_COLUMNS if any(s.get(k) is not None for s in steps)]
    machine = result.get("machine", {})
    lines = [
        f"### Capacity — {result.get('profile_description', result.get('profile'))}",
        "",
        f"- date: {result.get('date')}",
        f"- machine: {machine.get('cores')} cores, {machine.get('cpu_model')}",
        f"- command: `{result.get('command')}`",
        f"- servers pinned to core {result.get('server_core')}, "
        f"generator on {result.get('generator_cores')}",
        f"- SRTP: ours {result.get('srtp_profile')}, Janus {result.get('janus_srtp_profile')}; "
        f"{result.get('seconds_per_step')} s measured per step",
        "",
        "| " + " | ".join(title for _, title in used) + " |",
        "|" + "---|" * len(used),
    ]
    for step in steps:
        lines.append("| " + " | ".join(_cell(step.get(k)) for k, _ in used) + " |")
    lines += [
        "",
        f"- capacity (clean: loss < 1 %, join p95 < 2 s, SFU CPU < 85 % of its core): "
        f"**{result.get('capacity_calls')} calls** observed",
        f"- projected from CPU per call at the highest clean step: "
        f"**{_cell(result.get('projected_capacity_calls'))} calls** per SFU core",
    ]
    if result.get("generator_cpu_per_call_pct") is not None:
        lines.append(
            f"- load generator at that step: {_cell(result['generator_cpu_per_call_pct'])} % of "
            f"a core per call, {_cell(result.get('generator_to_sfu_cpu_ratio'))}× the SFU's CPU"
        )
    if result.get("janus_capacity_calls") is not None:
        lines.append(
            f"- Janus clean up to {result['janus_capacity_calls']} calls in this run; "
            f"projected {_cell(result.get('janus_projected_capacity_calls'))} calls per core"
        )
    for note in result.get("notes", []):
        lines.append(f"- note: {note}")
    lines += _join_table(steps)
    return "\n".join(lines) + "\n"


def _phases(value: Any) -> str:
    if not value:
        return "–"
    return " / ".join(f"{phase} {seconds:.2f}" for phase, seconds in value.items())


def _join_table(steps: list[dict[str, Any]]) -> list[str]:
    """Where joins wait: each phase's p95, the ramp, each loop's lateness, the core."""
    if not any(s.get("join_phases_p95_s") or s.get("janus_join_phases_p95_s") for s in steps):
        return []
    lines = [
        "",
        "Joins, per step (p95 of each phase in s; probe = the server's answer time to a "
        "small HTTP request during ramp + window; lag = the generator's event loop; core = "
        "how busy the server's core was, all processes):",
        "",
        "| calls | our join phases | ramp s | probe ms | lag ms | core % | keyframe req. "
        "| Janus join phases | ramp s | probe ms | lag ms | core % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        cells = [
            s.get("calls"),
            _phases(s.get("join_phases_p95_s")),
            _cell(s.get("ramp_s")),
            _cell(s.get("sfu_probe_p95_ms")),
            _cell(s.get("generator_lag_p95_ms")),
            _cell(s.get("sfu_core_busy_pct")),
            _cell(s.get("keyframe_requests")),
            _phases(s.get("janus_join_phases_p95_s")),
            _cell(s.get("janus_ramp_s")),
            _cell(s.get("janus_probe_p95_ms")),
            _cell(s.get("janus_generator_lag_p95_ms")),
            _cell(s.get("janus_core_busy_pct")),
        ]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return lines


def write_markdown(result: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown(result))


def write_plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = result.get("steps", [])
    fig, (cpu_ax, loss_ax) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for key, label, marker in (
        ("sfu_cpu_pct", "our SFU", "o"),
        ("janus_cpu_pct", "Janus", "s"),
        ("generator_cpu_pct", "load generator (our run)", "^"),
        ("janus_generator_cpu_pct", "load generator (Janus run)", "v"),
    ):
        points = [(s["calls"], s[key]) for s in steps if s.get(key) is not None]
        if points:
            cpu_ax.plot(*zip(*points, strict=True), marker=marker, label=label)
    cpu_ax.axhline(85, color="grey", linestyle="--", linewidth=0.8, label="85 % of a core")
    cpu_ax.set_ylabel("CPU % of one core")
    cpu_ax.legend()
    cpu_ax.grid(alpha=0.3)
    for key, label, marker in (("loss", "our SFU", "o"), ("janus_loss", "Janus", "s")):
        points = [(s["calls"], 100 * s[key]) for s in steps if s.get(key) is not None]
        if points:
            loss_ax.plot(*zip(*points, strict=True), marker=marker, label=label)
    loss_ax.axhline(1, color="grey", linestyle="--", linewidth=0.8, label="1 % loss")
    loss_ax.set_ylabel("loss %")
    loss_ax.set_xlabel("simultaneous calls")
    loss_ax.legend()
    loss_ax.grid(alpha=0.3)
    fig.suptitle(f"Capacity — {result.get('profile_description', result.get('profile'))}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
