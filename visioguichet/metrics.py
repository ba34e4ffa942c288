"""``/metrics``: the SFU's and signalling's counters, and the service's histograms, as
Prometheus text through ``prometheus-client``.

The parts report plain nested dicts; this module is the only one that knows
Prometheus, so the SFU and signalling stay free of any monitoring dependency. A
custom collector reads those dicts at each scrape (nothing is copied between
scrapes) and types each value from ``DECLARED``: what only grows is a counter (its
samples end in ``_total``), what goes up and down a gauge, each with its HELP line.

Rooms are named after bookings, and a booking id in a label would let whoever reads
the metrics (or stores them for years) follow one citizen's appointment. Per-room
counters are therefore never labelled: the parts already report their sums, and here
each per-room counter also becomes its largest value over the open rooms
(``…_room_max_<counter>``), which says how heavy the busiest call is without naming it.
Both are gauges: a closing room takes its counts with it.

A node among several labels every sample ``node="<node id>"``, so one Prometheus
scraping each node's ``/metrics`` keeps them apart and sums them at will; a lone
process has no label to add.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NAME_RE = re.compile(r"[^a-zA-Z0-9_]")

Parts = Mapping[str, Mapping[str, Any]]
Sample = tuple[str, dict[str, str], float]


@dataclass(frozen=True, slots=True)
class Declared:
    kind: Literal["counter", "gauge"]
    help: str


def _counter(text: str) -> Declared:
    return Declared("counter", text)


def _gauge(text: str) -> Declared:
    return Declared("gauge", text)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


# What each room reports (``Room.stats()``), described once for its two views.
_ROOM_VALUES: dict[str, str] = {
    "packets_in": "RTP packets received from publishers",
    "bytes_in": "RTP bytes received from publishers",
    "packets_out": "RTP packets sent to subscribers",
    "bytes_out": "RTP bytes sent to subscribers",
    "layer_switches": "simulcast layer switches of consumers",
    "keyframe_requests": "keyframe requests sent to publishers",
    "nacks_received": "NACKs received from subscribers",
    "nacks_served": "packets resent from the SFU's history after a NACK",
    "nacks_forwarded": "NACKs passed on to publishers",
    "packets_lost_reported": "packets subscribers reported lost",
    "participants": "participants in the room",
    "producers": "incoming streams (producers)",
    "consumers": "outgoing streams (consumers)",
}

DECLARED: dict[str, Declared] = {
    "visioguichet_sfu_open_rooms": _gauge("SFU rooms open now"),
    "visioguichet_sfu_malformed_datagrams": _counter(
        "Datagrams on the SFU's ICE sockets that could not be parsed (dropped)"
    ),
    "visioguichet_sfu_streams_not_decodable": _counter(
        "Streams a subscriber did not get: it cannot decode their codec (codec-unsupported)"
    ),
    "visioguichet_sfu_connection_failures": _counter(
        "Peer connections that did not work, by reason (the signalling error code)"
    ),
    "visioguichet_signaling_connections": _gauge("Signalling WebSocket connections open now"),
    "visioguichet_signaling_connections_total": _counter(
        "Signalling WebSocket connections accepted since start"
    ),
    "visioguichet_signaling_participants": _gauge("Connections joined to a room now"),
    "visioguichet_signaling_lobby_waiting": _gauge("Connections waiting in a lobby now"),
    "visioguichet_signaling_rooms": _gauge("Signalling rooms open now"),
    "visioguichet_signaling_frames_in": _counter("Frames received from clients"),
    "visioguichet_signaling_frames_out": _counter("Frames sent to clients"),
    "visioguichet_signaling_frames_dropped": _counter(
        "Frames to clients dropped because the client read too slowly"
    ),
    "visioguichet_signaling_call_events_dropped": _counter(
        "Call events for booking statistics dropped because their queue was full"
    ),
    "visioguichet_signaling_errors": _counter("Error frames sent to clients, by code"),
    **{
        f"visioguichet_sfu_totals_{key}": _gauge(
            f"{_sentence(text)}, summed over the rooms open now (falls when a room closes)"
        )
        for key, text in _ROOM_VALUES.items()
    },
    **{
        f"visioguichet_sfu_room_max_{key}": _gauge(
            f"{_sentence(text)}, in the open room with the most (no room label: rooms "
            "are named after bookings)"
        )
        for key, text in _ROOM_VALUES.items()
    },
}

# Nested sections whose flat numbers are one metric labelled by their key.
_LABELLED_SECTIONS = {"errors": "code", "errors_by_code": "code", "connection_failures": "reason"}


def _metric_name(*parts: str) -> str:
    return "_".join(_NAME_RE.sub("_", p).strip("_") for p in parts if p)


def _samples(prefix: str, stats: Mapping[str, Any], labels: dict[str, str]) -> Iterator[Sample]:
    for key, value in stats.items():
        if isinstance(value, int | float):  # bool is an int: True counts as 1
            yield _metric_name(prefix, key), labels, float(value)
        elif isinstance(value, Mapping) and key in ("rooms", "by_room"):
            yield from _room_maxima(prefix, value, labels)
        elif isinstance(value, Mapping):
            label_name = _LABELLED_SECTIONS.get(key)
            if label_name and all(isinstance(v, int | float) for v in value.values()):
                for sub_key, sub_value in value.items():
                    name = _metric_name(prefix, key)
                    yield name, {**labels, label_name: str(sub_key)}, float(sub_value)
            else:
                yield from _samples(_metric_name(prefix, key), value, labels)


def _room_maxima(prefix: str, rooms: Mapping[Any, Any], labels: dict[str, str]) -> Iterator[Sample]:
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


def _families(parts: Parts, node: str | None = None) -> Iterator[Metric]:
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    base = {"node": node} if node else {}
    for part, stats in parts.items():
        for name, labels, value in _samples(_metric_name("visioguichet", part), stats, base):
            by_name.setdefault(name, []).append((labels, value))
    for name in sorted(by_name):
        declared = DECLARED.get(name) or _gauge(f"{name}, as its part reports it")
        if declared.kind == "counter":
            family = Metric(name.removesuffix("_total"), declared.help, "counter")
            sample_name = family.name + "_total"
        else:
            family = Metric(name, declared.help, "gauge")
            sample_name = name
        for labels, value in by_name[name]:
            family.add_sample(sample_name, labels, value)
        yield family


class PartsCollector(Collector):
    """Reads the parts' counters at each scrape."""

    def __init__(self, read_parts: Callable[[], Parts], node: str | None = None) -> None:
        self._read_parts = read_parts
        self._node = node

    def collect(self) -> Iterable[Metric]:
        return list(_families(self._read_parts(), self._node))


# Join time: a database look-up and a room lock, usually milliseconds; a slow
# database or a crowded room shows in the upper buckets.
JOIN_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Loop lag: a frame is 33 ms at 30 fps; beyond 100 ms a call stutters.
LOOP_LAG_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


class ServiceMetrics:
    """One registry per application: the service's histograms, and the parts' counters
    once ``read_parts_from`` names where they come from."""

    def __init__(self, node: str | None = None) -> None:
        self.node = node
        self.registry = CollectorRegistry(auto_describe=False)
        labelnames = ("node",) if node else ()
        join_seconds = Histogram(
            "visioguichet_join_seconds",
            "Seconds from a valid join token's admission check to its participant entering "
            "the room (joined frame sent, others told); guests' joins with a lobby token "
            "are not counted (they wait for a host)",
            buckets=JOIN_BUCKETS_S,
            labelnames=labelnames,
            registry=self.registry,
        )
        loop_lag_seconds = Histogram(
            "visioguichet_relay_loop_lag_seconds",
            "How late a 100 ms timer on the server's event loop fires, in seconds: the time "
            "a media packet can wait in its socket before the loop reads it and relays it "
            "(fast path or Python decisions), on top of the per-packet work",
            buckets=LOOP_LAG_BUCKETS_S,
            labelnames=labelnames,
            registry=self.registry,
        )
        self.join_seconds = join_seconds.labels(node) if node else join_seconds
        self.loop_lag_seconds = loop_lag_seconds.labels(node) if node else loop_lag_seconds

    def read_parts_from(self, read_parts: Callable[[], Parts]) -> None:
        self.registry.register(PartsCollector(read_parts, self.node))

    def render(self) -> str:
        return generate_latest(self.registry).decode()


def render_prometheus(parts: Parts, node: str | None = None) -> str:
    """Render ``{"sfu": sfu.stats(), "signaling": server.stats()}`` as Prometheus text."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PartsCollector(lambda: parts, node))
    return generate_latest(registry).decode()
