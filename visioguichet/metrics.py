"""Prometheus text exposition of the SFU's and signalling's counters, for ``/metrics``.

The parts report plain nested dicts; this module is the only one that knows the
Prometheus format, so the SFU stays free of any monitoring dependency.

Rooms are named after bookings, and a booking id in a label would let whoever reads
the metrics (or stores them for years) follow one citizen's appointment. Per-room
counters are therefore never labelled: the parts already report their sums, and here
each per-room counter also becomes its largest value over the open rooms
(``…_room_max_<counter>``), which says how heavy the busiest call is without naming it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")


def _metric_name(*parts: str) -> str:
    return "_".join(_NAME_RE.sub("_", p).strip("_") for p in parts if p)


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _samples(
    prefix: str, stats: Mapping[str, Any], labels: dict[str, str]
) -> Iterator[tuple[str, dict[str, str], float]]:
    for key, value in stats.items():
        if isinstance(value, int | float):  # bool is an int: True counts as 1
            yield _metric_name(prefix, key), labels, float(value)
        elif isinstance(value, Mapping) and key in ("rooms", "by_room"):
            yield from _room_maxima(prefix, value, labels)
        elif isinstance(value, Mapping):
            label_name = {
                "errors": "code",
                "errors_by_code": "code",
                "connection_failures": "reason",
            }.get(key)
            if label_name and all(isinstance(v, int | float) for v in value.values()):
                for sub_key, sub_value in value.items():
                    name = _metric_name(prefix, key)
                    yield name, {**labels, label_name: str(sub_key)}, float(sub_value)
            else:
                yield from _samples(_metric_name(prefix, key), value, labels)


def _room_maxima(
    prefix: str, rooms: Mapping[Any, Any], labels: dict[str, str]
) -> Iterator[tuple[str, dict[str, str], float]]:
    """Each flat per-room counter's largest value over the rooms, with no room label."""
    maxima: dict[str, float] = {}
    for room_stats in rooms.values():
        if not isinstance(room_stats, Mapping):
            continue
        for key, value in room_stats.items():
            if isinstance(value, int | float):
                maxima[key] = max(maxima.get(key, float(value)), float(value))
    for key in sorted(maxima):
        yield _metric_name(prefix, "room_max", key), labels, maxima[key]


def render_prometheus(parts: Mapping[str, Mapping[str, Any]]) -> str:
    """Render ``{"sfu": sfu.stats(), "signaling": server.stats()}`` as Prometheus text."""
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for part, stats in parts.items():
        for name, labels, value in _samples(_metric_name("visioguichet", part), stats, {}):
            by_name.setdefault(name, []).append((labels, value))
    lines: list[str] = []
    for name in sorted(by_name):
        lines.append(f"# TYPE {name} gauge")
        for labels, value in by_name[name]:
            label_text = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sorted(labels.items()))
            rendered = f"{value:.17g}"
            selector = f"{name}{{{label_text}}}" if label_text else name
            lines.append(f"{selector} {rendered}")
    return "\n".join(lines) + "\n"
