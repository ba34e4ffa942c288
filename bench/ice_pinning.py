"""Pin an aiortc peer connection's ICE host candidates to given addresses.

aioice scans every interface and leaves loopback out; the Janus bots must gather on
the namespace's veth address only, so no connectivity check goes anywhere else.
(Our own bots get the same from ``SignalingClient(ice_addresses=...)``; the SFU-API
clients, ``sfu_loopback_client`` and ``simulcast_publisher``, use this on 127.0.0.1.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiortc import RTCPeerConnection


def restrict_host_addresses(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Call after the transceivers exist and before ``setLocalDescription`` (it gathers)."""
    chosen = list(addresses)
    for transceiver in pc.getTransceivers():
        connection: Any = transceiver.receiver.transport.transport.iceGatherer._connection
        if getattr(connection, "_bench_pinned", False):
            continue
        gather = connection.get_component_candidates

        async def on_chosen(
            component: int, addresses: list[str], _gather: Any = gather, **kwargs: Any
        ) -> Any:
            return await _gather(component=component, addresses=chosen, **kwargs)

        connection.get_component_candidates = on_chosen
        connection._bench_pinned = True
