"""The address of the client behind a request, trusting ``X-Forwarded-For`` only from
configured proxies.

Behind the recommended TLS reverse proxy every request's peer is the proxy, so keying
anything on ``request.remote`` makes all citizens and agents one client. The header is
trusted only when the peer is a configured proxy, because anyone else can write it.
Proxies append the address they received from, so the list is read from the right:
the first entry that is not itself a trusted proxy is the client; entries further left
were written by the client and may be lies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from aiohttp import web

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNKNOWN = "unknown"


def parse_networks(entries: Iterable[str]) -> tuple[IpNetwork, ...]:
    """``"10.0.0.5"``, ``"10.0.0.0/8"``, ``"::1"``… as networks; ``ValueError`` names
    the first entry that is neither an address nor a CIDR."""
    networks: list[IpNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(f"not an IP address or CIDR network: {entry!r}") from exc
    return tuple(networks)


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return parse_networks(entries)


def _address(text: str) -> IpAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "192.0.2.1:443"
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: IpAddress, networks: tuple[IpNetwork, ...]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def resolve_client(
    peer: str | None, forwarded_for: Iterable[str], trusted_proxies: tuple[str, ...]
) -> str:
    """The client's address: the peer itself unless it is a trusted proxy, else the
    rightmost ``X-Forwarded-For`` entry (all header lines, in order) that is not a
    trusted proxy. A malformed entry stops the walk there: the last good hop is the
    client, so a garbled header never lets a caller choose its own key."""
    peer_address = _address(peer) if peer else None
    if peer_address is None:
        return peer or UNKNOWN
    networks = _networks(trusted_proxies) if trusted_proxies else ()
    client = peer_address
    if not networks or not _trusted(client, networks):
        return str(client)
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            break
        client = address
        if not _trusted(client, networks):
            break
    return str(client)


def client_address(request: web.Request, trusted_proxies: tuple[str, ...]) -> str:
    """:func:`resolve_client` for an aiohttp request."""
    return resolve_client(
        request.remote, request.headers.getall("X-Forwarded-For", []), trusted_proxies
    )
