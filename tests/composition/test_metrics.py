"""/metrics text: the parts' nested counters become valid Prometheus samples."""

from __future__ import annotations

import re

from visioguichet.metrics import render_prometheus

LABEL = r'[a-z_]+="(?:[^"\\]|\\.)*"'
SAMPLE_LINE = re.compile(rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{{LABEL}(,{LABEL})*\}})? \S+$")


def test_rooms_named_after_bookings_never_reach_a_label_and_every_line_is_valid() -> None:
    text = render_prometheus(
        {
            "sfu": {
                "open_rooms": 2,
                "rooms": {
                    "bk-7f3a9c": {"packets_in": 10, "participants": 2, "bytes_out": 2.5e6},
                    'bk-"2"': {"packets_in": 3, "participants": 4},
                },
                "totals": {"packets_in": 13, "participants": 6},
            },
            "signaling": {"connections": 4, "errors": {"bad-frame": 1, "unknown-type": 2}},
        }
    )
    assert "bk-" not in text and "room=" not in text
    assert "visioguichet_sfu_room_max_participants 4" in text
    assert "visioguichet_sfu_room_max_packets_in 10" in text
    assert "visioguichet_sfu_totals_packets_in 13" in text
    assert "visioguichet_sfu_open_rooms 2" in text
    assert 'visioguichet_signaling_errors{code="unknown-type"} 2' in text
    for line in text.splitlines():
        assert line.startswith("# TYPE ") or SAMPLE_LINE.match(line), line


def test_nested_sections_are_prefixed_not_lost() -> None:
    text = render_prometheus({"sfu": {"forwarding": {"packets": 7, "ok": True}}})
    assert "visioguichet_sfu_forwarding_packets 7" in text
    assert "visioguichet_sfu_forwarding_ok 1" in text
