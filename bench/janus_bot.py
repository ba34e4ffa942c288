"""A bot joining Janus's VideoRoom: one publisher handle, one subscriber handle."""

from __future__ import annotations

import time
from collections.abc import Sequence

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.ice_pinning import restrict_host_addresses
from bench.janus_client import JanusSession
from bench.participants import Bot, Clips, sender_packets, srtp_profile, wait_connected
from bench.rtp_pump import BotPeerConnection


class JanusBot(Bot):
    """A VideoRoom publisher + subscriber, its media on the namespace's veth."""

    def __init__(
        self, name: str, clips: Clips, http: aiohttp.ClientSession, api_url: str, ice_address: str
    ) -> None:
        super().__init__(name, clips)
        self.http = http
        self.api_url = api_url
        self.ice_address = ice_address
        self.session: JanusSession | None = None
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.feed_id: int | None = None

    async def start(self, room: int) -> None:
        self.started_at = time.monotonic()
        self.session = session = await JanusSession.create(self.http, self.api_url)
        handle = await session.attach()
        self.mark("session")
        joined = await session.message(
            handle, {"request": "join", "ptype": "publisher", "room": room, "display": self.name}
        )
        self.mark("join")
        self.feed_id = int(joined["plugindata"]["data"]["id"])
        pc = self.publish_pc = BotPeerConnection(
            self.stats, configuration=RTCConfiguration(iceServers=[])
        )
        for track in self.tracks.values():
            pc.addTransceiver(track, direction="sendonly")
        restrict_host_addresses(pc, (self.ice_address,))
        await pc.setLocalDescription(await pc.createOffer())
        self.mark("offer")
        reply = await session.message(
            handle,
            {"request": "publish", "audio": True, "video": self.video is not None},
            jsep={"type": "offer", "sdp": pc.localDescription.sdp},
        )
        await pc.setRemoteDescription(RTCSessionDescription(reply["jsep"]["sdp"], "answer"))
        self.mark("publish")
        self._route_keyframes(pc)
        await session.next_event(handle, "webrtcup")
        await wait_connected(pc)
        self.mark("connect")
        self.published_at = time.monotonic()

    async def subscribe(self, room: int, feeds: Sequence[int]) -> None:
        assert self.session is not None
        session = self.session
        handle = await session.attach()
        event = await session.message(
            handle,
            {
                "request": "join",
                "ptype": "subscriber",
                "room": room,
                "streams": [{"feed": feed} for feed in feeds],
            },
        )
        self.note_once("subscribe_offer")
        pc = self.subscribe_pc = BotPeerConnection(
            self.stats, configuration=RTCConfiguration(iceServers=[])
        )
        await pc.setRemoteDescription(RTCSessionDescription(event["jsep"]["sdp"], "offer"))
        restrict_host_addresses(pc, (self.ice_address,))
        await pc.setLocalDescription(await pc.createAnswer())
        await session.message(
            handle, {"request": "start"}, jsep={"type": "answer", "sdp": pc.localDescription.sdp}
        )
        self.note_once("subscribe_answered")

    def srtp_profile(self) -> str | None:
        return srtp_profile(self.publish_pc)

    def packets_sent(self) -> int:
        return sender_packets(self.publish_pc)

    async def close(self) -> None:
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        if self.session is not None:
            await self.session.close()
