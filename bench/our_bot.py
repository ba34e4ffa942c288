"""A bot joining our service through the signalling protocol of ``docs/protocol.md``.

It reuses ``signaling.client.SignalingClient`` (the project's own protocol client) and
only swaps in peer connections that count received RTP instead of decoding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection

from bench.participants import Bot, Clips, sender_packets, srtp_profile, wait_connected
from bench.receive_stats import ReceiveStats
from bench.rtp_pump import BotPeerConnection
from signaling.client import SignalingClient


class _CountingSignalingClient(SignalingClient):
    def __init__(self, ws_url: str, stats: ReceiveStats, **kwargs: Any) -> None:
        super().__init__(ws_url, **kwargs)
        self._stats = stats

    def _new_peer_connection(self) -> RTCPeerConnection:
        return BotPeerConnection(
            self._stats, configuration=RTCConfiguration(iceServers=list(self._ice_servers))
        )


class OurBot(Bot):
    """A participant of our service, joined with a signed join token."""

    def __init__(self, name: str, clips: Clips, ws_url: str, ice_address: str) -> None:
        super().__init__(name, clips)
        self.client = _CountingSignalingClient(ws_url, self.stats, ice_addresses=(ice_address,))

    async def start(self, token: str) -> None:
        self.started_at = time.monotonic()
        await self.client.connect()
        reply = await self.client.join(token)
        if reply.get("type") != "joined":
            raise ConnectionError(f"not joined: {reply.get('type')}")
        await self.client.publish(dict(self.tracks))
        assert self.client.publish_pc is not None
        self._route_keyframes(self.client.publish_pc)
        await wait_connected(self.client.publish_pc)
        self.published_at = time.monotonic()

    def srtp_profile(self) -> str | None:
        return srtp_profile(self.client.publish_pc)

    def packets_sent(self) -> int:
        return sender_packets(self.client.publish_pc)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.leave(), 5.0)
        await self.client.close()
