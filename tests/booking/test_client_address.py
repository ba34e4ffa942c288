"""The client behind a request: X-Forwarded-For is believed only from trusted proxies."""

from __future__ import annotations

import pytest

from booking_api.client_address import parse_networks, resolve_client

PROXY = ("10.0.0.5",)


def test_a_direct_peer_is_the_client_whatever_it_writes() -> None:
    assert resolve_client("192.0.2.7", ["198.51.100.1"], ()) == "192.0.2.7"
    assert resolve_client("192.0.2.7", ["198.51.100.1"], PROXY) == "192.0.2.7"


def test_behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() -> None:
    # The client may prepend anything; the proxy appends what it really saw.
    assert resolve_client("10.0.0.5", ["6.6.6.6, 203.0.113.9"], PROXY) == "203.0.113.9"
    # Two proxy layers (a load balancer in 10.1.0.0/16 in front of ours).
    chain = ("10.0.0.5", "10.1.0.0/16")
    forwarded = ["6.6.6.6, 203.0.113.9, 10.1.2.3"]
    assert resolve_client("10.0.0.5", forwarded, chain) == "203.0.113.9"
    # Several header lines count as one list, in order.
    assert resolve_client("10.0.0.5", ["6.6.6.6", "203.0.113.9"], PROXY) == "203.0.113.9"


def test_a_trusted_proxy_without_a_header_is_the_client() -> None:
    assert resolve_client("10.0.0.5", [], PROXY) == "10.0.0.5"


def test_a_garbled_entry_stops_the_walk_at_the_last_good_hop() -> None:
    chain = ("10.0.0.5", "10.1.0.0/16")
    forwarded = ["203.0.113.9, not-an-ip, 10.1.2.3"]
    assert resolve_client("10.0.0.5", forwarded, chain) == "10.1.2.3"


def test_ports_brackets_and_mapped_addresses_are_read() -> None:
    assert resolve_client("::ffff:10.0.0.5", ["[2001:db8::7]:4431"], PROXY) == "2001:db8::7"
    assert resolve_client("10.0.0.5", ["192.0.2.4:5678"], PROXY) == "192.0.2.4"


def test_a_bad_network_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.300"):
        parse_networks(["10.0.0.0/8", "10.0.0.300"])
