"""``/metrics`` of a node among several labels every sample with the node's id."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from tests.support.server import run_service
from visioguichet.metrics import render_prometheus

SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<labels>\{[^}]*\})? \S+$")


def test_every_sample_names_its_node_when_the_parts_are_rendered_for_one() -> None:
    parts = {"sfu": {"open_rooms": 2, "connection_failures": {"ice-failed": 1}}}
    text = render_prometheus(parts, node="vm-2")
    assert 'visioguichet_sfu_open_rooms{node="vm-2"} 2.0' in text
    assert 'visioguichet_sfu_connection_failures_total{node="vm-2",reason="ice-failed"} 1.0' in text
    assert "visioguichet_sfu_open_rooms 2.0" in render_prometheus(parts)


def test_a_served_node_labels_every_sample_of_its_metrics(tmp_path: Path) -> None:
    with (
        run_service(tmp_path, extra_args=("--node-id", "vm-7")) as node,
        urllib.request.urlopen(node.base_url + "/metrics", timeout=10) as response,
    ):
        text = response.read().decode()
    samples = [SAMPLE.match(line) for line in text.splitlines() if not line.startswith("#")]
    assert samples and all(samples)
    unlabelled = [m["name"] for m in samples if m and 'node="vm-7"' not in (m["labels"] or "")]
    assert unlabelled == []
    assert any(m and m["name"] == "visioguichet_join_seconds_count" for m in samples)
