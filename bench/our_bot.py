"""A bot joining our service through the signalling protocol of ``docs/protocol.md``.

It reuses ``signaling.client.SignalingClient`` (the project's own protocol client) and
only swaps in peer connections that count received RTP instead of decoding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection

from bench.participants import Bot, Clips, sender_packets, srtp_profile, wait_connected
from bench.rtp_pump import BotPeerConnection
from signaling.client import SignalingClient


class _CountingSignalingClient(SignalingClient):
    def __init__(self, ws_url: str, bot: Bot, **kwargs: Any) -> None:
        super().__init__(ws_url, **kwargs)
        self._bot = bot

    def _new_peer_connection(self) -> RTCPeerConnection:
        return BotPeerConnection(
            self._bot.stats, configuration=RTCConfiguration(iceServers=list(self._ice_servers))
        )

    async def request(self, frame: Mapping[str, Any], *, timeout_s: float = 10.0) -> dict[str, Any]:
        if frame.get("type") == "publish":
            self._bot.mark("offer")  # local offer made, candidates gathered
        return await super().request(frame, timeout_s=timeout_s)

    async def _answer_offer(self, frame: dict[str, Any]) -> None:
        self._bot.note_once("subscribe_offer")
        await super()._answer_offer(frame)
        self._bot.note_once("subscribe_answered")


class OurBot(Bot):
    """A participant of our service, joined with a signed join token."""

    def __init__(self, name: str, clips: Clips, ws_url: str, ice_address: str) -> None:
        super().__init__(name, clips)
        self.client = _CountingSignalingClient(ws_url, self, ice_addresses=(ice_address,))

    async def start(self, token: str) -> None:
        self.started_at = time.monotonic()
        await self.client.connect()
        self.mark("ws")
        reply = await self.client.join(token)
        if reply.get("type") != "joined":
            raise ConnectionError(f"not joined: {reply.get('type')}")
        self.mark("join")
        await self.client.publish(dict(self.tracks))
        self.mark("publish")  # the server's answer, applied
        assert self.client.publish_pc is not None
        self._route_keyframes(self.client.publish_pc)
        await wait_connected(self.client.publish_pc)
        self.mark("connect")  # ICE + DTLS
        self.published_at = time.monotonic()

    def srtp_profile(self) -> str | None:
        return srtp_profile(self.client.publish_pc)

    def packets_sent(self) -> int:
        return sender_packets(self.client.publish_pc)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.client.leave(), 5.0)
        await self.client.close()
