"""Choosing which local addresses an aiortc peer connection offers as ICE candidates.

aioice scans the interfaces and leaves loopback out, which suits the Internet but
not tests and benchmarks that must keep media on 127.0.0.1. This pins a peer
connection's host candidates to given addresses, per connection, without touching
aioice's module-wide behaviour (an SFU in the same process keeps its own settings).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiortc import RTCPeerConnection

_MARK = "_visioguichet_host_addresses"


def restrict_host_addresses(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Make every ICE gatherer of ``pc`` gather host candidates on ``addresses`` only.

    Call after the transceivers exist and before ``setLocalDescription`` (which
    gathers). Calling it again is harmless.
    """
    chosen = list(addresses)
    for transceiver in pc.getTransceivers():
        connection: Any = transceiver.receiver.transport.transport.iceGatherer._connection
        if getattr(connection, _MARK, None) is not None:
            continue
        original = connection.get_component_candidates

        async def on_chosen_addresses(
            component: int, addresses: list[str], _original: Any = original, **kwargs: Any
        ) -> Any:
            return await _original(component=component, addresses=chosen, **kwargs)

        connection.get_component_candidates = on_chosen_addresses
        setattr(connection, _MARK, chosen)
