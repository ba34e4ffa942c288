"""/metrics text: the parts' nested counters become valid Prometheus samples, each
family with its HELP and TYPE, what only grows as a counter."""

from __future__ import annotations

import re

from visioguichet.metrics import render_prometheus

LABEL = r'[a-z_]+="(?:[^"\\]|\\.)*"'
SAMPLE_LINE = re.compile(rf"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{{{LABEL}(,{LABEL})*\}})? \S+$")

PARTS = {
    "sfu": {
        "open_rooms": 2,
        "rooms": {
            "bk-7f3a9c": {"packets_in": 10, "participants": 2, "bytes_out": 2.5e6},
            'bk-"2"': {"packets_in": 3, "participants": 4},
        },
        "totals": {"packets_in": 13, "participants": 6},
        "malformed_datagrams": 5,
        "connection_failures": {"ice-failed": 1, "dtls-failed": 0},
    },
    "signaling": {
        "connections": 4,
        "connections_total": 9,
        "frames_in": 40,
        "errors": {"bad-frame": 1, "unknown-type": 2},
    },
}


def types_of(text: str) -> dict[str, str]:
    return dict(
        line.removeprefix("# TYPE ").split(" ", 1)
        for line in text.splitlines()
        if line.startswith("# TYPE ")
    )


def test_rooms_named_after_bookings_never_reach_a_label_and_every_line_is_valid() -> None:
    text = render_prometheus(PARTS)
    assert "bk-" not in text and "room=" not in text
    assert "visioguichet_sfu_room_max_participants 4.0" in text
    assert "visioguichet_sfu_room_max_packets_in 10.0" in text
    assert "visioguichet_sfu_totals_packets_in 13.0" in text
    assert "visioguichet_sfu_open_rooms 2.0" in text
    assert 'visioguichet_signaling_errors_total{code="unknown-type"} 2.0' in text
    for line in text.splitlines():
        assert line.startswith(("# TYPE ", "# HELP ")) or SAMPLE_LINE.match(line), line


def test_every_family_says_what_it_counts_and_its_type() -> None:
    text = render_prometheus(PARTS)
    helped = {
        line.split(" ")[2]: line.split(" ", 3)[3]
        for line in text.splitlines()
        if line.startswith("# HELP ")
    }
    assert set(helped) == set(types_of(text))
    assert all(len(help_text) > 10 for help_text in helped.values()), helped
    assert "no room label" in helped["visioguichet_sfu_room_max_packets_in"]


def test_what_only_grows_is_a_counter_and_what_goes_down_a_gauge() -> None:
    text = render_prometheus(PARTS)
    types = types_of(text)
    for counter in (
        "visioguichet_sfu_malformed_datagrams_total",
        "visioguichet_sfu_connection_failures_total",
        "visioguichet_signaling_connections_total",
        "visioguichet_signaling_frames_in_total",
        "visioguichet_signaling_errors_total",
    ):
        assert types[counter] == "counter", counter
    # open rooms take their counts with them when they close: sums and maxima fall
    for gauge in (
        "visioguichet_sfu_open_rooms",
        "visioguichet_signaling_connections",
        "visioguichet_sfu_totals_packets_in",
        "visioguichet_sfu_room_max_packets_in",
    ):
        assert types[gauge] == "gauge", gauge
    assert "visioguichet_sfu_malformed_datagrams_total 5.0" in text
    assert 'visioguichet_sfu_connection_failures_total{reason="dtls-failed"} 0.0' in text
    assert "visioguichet_signaling_connections_total 9.0" in text


def test_nested_sections_are_prefixed_not_lost() -> None:
    text = render_prometheus({"sfu": {"forwarding": {"packets": 7, "ok": True}}})
    assert "visioguichet_sfu_forwarding_packets 7.0" in text
    assert "visioguichet_sfu_forwarding_ok 1.0" in text
    assert "# TYPE visioguichet_sfu_forwarding_packets gauge" in text
