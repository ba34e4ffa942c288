"""A Python signalling client, for integrators, tests and benchmarks.

It speaks the protocol of ``docs/protocol.md`` over aiohttp and carries media with
aiortc: one *publish* peer connection for the tracks it is given (any aiortc
``MediaStreamTrack``, so a benchmark can pass cheap pre-encoded sources) and one
*subscribe* peer connection answering the server's offers. ICE is gathered before
SDP is sent (non-trickle), with no public STUN server, and host candidates can be
pinned to given addresses (``ice_addresses=("127.0.0.1",)`` keeps media on loopback).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgpack
import structlog
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from signaling.codec import MSGPACK_SUBPROTOCOL
from signaling.ice import restrict_host_addresses

log = structlog.get_logger(__name__)

PROTOCOL_VERSION = 1


class SignalingError(Exception):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, frame: Mapping[str, Any]) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.frame = dict(frame)
        self.code = str(frame.get("code"))
        self.field = frame.get("field")


@dataclass(frozen=True, slots=True)
class TrackInfo:
    mid: str
    participant_id: str
    source: str
    kind: str


class SignalingClient:
    """One participant. ``async with SignalingClient(url) as client: ...``."""

    def __init__(
        self,
        ws_url: str,
        *,
        ice_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        use_msgpack: bool = False,
        max_queued_frames: int = 1000,
        receive_codecs: Sequence[str] | None = None,
        send_codecs: Sequence[str] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.ice_addresses = tuple(ice_addresses) if ice_addresses is not None else None
        self._ice_servers = list(ice_servers)
        self.use_msgpack = use_msgpack
        # the video codecs declared decodable in ``join`` (None: not said)
        self.receive_codecs = tuple(receive_codecs) if receive_codecs is not None else None
        # the video codecs a publish offer lists, in this order (None: aiortc's own)
        self.send_codecs = tuple(send_codecs) if send_codecs is not None else None
        self.frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_queued_frames)
        self.frames_dropped = 0
        self.joined: dict[str, Any] | None = None
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.subscribed: dict[str, TrackInfo] = {}
        self._published: dict[str, MediaStreamTrack] = {}
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._offers: asyncio.Queue[dict[str, Any]] = asyncio.Queue(16)
        self._tracks_changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()

    async def __aenter__(self) -> SignalingClient:
        await self.connect()
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    # --- connection ------------------------------------------------------------------

    async def connect(self) -> None:
        self._http = aiohttp.ClientSession()
        protocols = (MSGPACK_SUBPROTOCOL,) if self.use_msgpack else ()
        self._ws = await self._http.ws_connect(self.ws_url, protocols=protocols, heartbeat=20)
        self._tasks = [
            asyncio.create_task(self._read_loop(), name="signaling-client-reader"),
            asyncio.create_task(self._offer_loop(), name="signaling-client-offers"),
        ]

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once the server closed the connection."""
        return self._ws.close_code if self._ws is not None else None

    @property
    def subprotocol(self) -> str | None:
        return self._ws.protocol if self._ws is not None else None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        if self._ws is not None:
            await self._ws.close()
        if self._http is not None:
            await self._http.close()
        self.closed.set()

    # --- frames ----------------------------------------------------------------------

    async def send(self, frame: Mapping[str, Any]) -> None:
        """Send a frame as is (JSON, or msgpack when negotiated)."""
        assert self._ws is not None, "connect() first"
        if self.subprotocol == MSGPACK_SUBPROTOCOL:
            await self._ws.send_bytes(msgpack.packb(dict(frame), use_bin_type=True))
        else:
            await self._ws.send_json(dict(frame))

    async def send_raw(self, data: str | bytes) -> None:
        """Send bytes or text unchanged (for testing the server's validation)."""
        assert self._ws is not None, "connect() first"
        if isinstance(data, bytes):
            await self._ws.send_bytes(data)
        else:
            await self._ws.send_str(data)

    async def request(self, frame: Mapping[str, Any], *, timeout_s: float = 10.0) -> dict[str, Any]:
        """Send with a fresh ``id``; return the reply carrying it as ``ref``.

        An ``error`` reply raises ``SignalingError``.
        """
        ref = str(next(self._ids))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await self.send({**frame, "id": ref})
            reply = await asyncio.wait_for(future, timeout_s)
        finally:
            self._pending.pop(ref, None)
        if reply.get("type") == "error":
            raise SignalingError(reply)
        return reply

    async def next_frame(self, *types: str, timeout_s: float = 10.0) -> dict[str, Any]:
        """The next server frame (of one of ``types`` if given; others are skipped)."""
        async with asyncio.timeout(timeout_s):
            while True:
                frame = await self.frames.get()
                if not types or frame.get("type") in types:
                    return frame

    async def _read_loop(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    frame = message.json()
                elif message.type == aiohttp.WSMsgType.BINARY:
                    frame = msgpack.unpackb(message.data, raw=False)
                else:
                    break
                self._on_frame(frame)
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("signalling connection closed"))

    def _on_frame(self, frame: dict[str, Any]) -> None:
        ref = frame.get("ref")
        future = self._pending.get(ref) if isinstance(ref, str) else None
        if future is not None and not future.done():
            future.set_result(frame)
            return
        if frame.get("type") == "offer":
            try:
                self._offers.put_nowait(frame)
            except asyncio.QueueFull:
                log.warning("signaling_client_offer_dropped")
        if self.frames.full():
            self.frames.get_nowait()  # the oldest frame goes: the queue is bounded
            self.frames_dropped += 1
        self.frames.put_nowait(frame)

    # --- room ------------------------------------------------------------------------

    async def join(self, token: str, *, timeout_s: float = 10.0) -> dict[str, Any]:
        """Send ``join``; returns ``joined``, or ``lobby-waiting`` for a lobby guest."""
        frame: dict[str, Any] = {"type": "join", "token": token, "protocol": PROTOCOL_VERSION}
        if self.receive_codecs is not None:
            frame["codecs"] = list(self.receive_codecs)
        reply = await self.request(frame, timeout_s=timeout_s)
        if reply["type"] == "joined":
            self.joined = reply
        return reply

    async def wait_admitted(self, *, timeout_s: float = 30.0) -> dict[str, Any]:
        """After ``lobby-waiting``: wait for ``joined`` (or raise on ``denied``)."""
        frame = await self.next_frame("joined", "error", timeout_s=timeout_s)
        if frame["type"] == "error":
            raise SignalingError(frame)
        self.joined = frame
        return frame

    @property
    def participant_id(self) -> str:
        assert self.joined is not None, "not joined"
        return str(self.joined["participant_id"])

    async def chat(self, text: str) -> dict[str, Any]:
        return await self.request({"type": "chat", "text": text})

    async def set_quality(self, mode: str = "auto", max_layer: int | None = None) -> None:
        frame: dict[str, Any] = {"type": "set-quality", "mode": mode}
        if max_layer is not None:
            frame["max_layer"] = max_layer
        await self.send(frame)

    async def leave(self) -> None:
        await self.send({"type": "leave"})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closed.wait(), 5.0)

    # --- media -----------------------------------------------------------------------

    def _new_peer_connection(self) -> RTCPeerConnection:
        """The extension point for both peer connections: a subclass may return its own
        ``RTCPeerConnection`` (benchmarks count RTP instead of decoding it). Keep
        ``RTCConfiguration(iceServers=...)`` explicit: aiortc's default adds public STUN.
        ``max-bundle`` puts every m-line on one transport, as the SFU expects (aiortc's
        default ``balanced`` opens one per kind once three or more m-lines exist)."""
        return RTCPeerConnection(
            RTCConfiguration(
                iceServers=list(self._ice_servers), bundlePolicy=RTCBundlePolicy.MAX_BUNDLE
            )
        )

    def _pin_addresses(self, pc: RTCPeerConnection) -> None:
        if self.ice_addresses is not None:
            restrict_host_addresses(pc, self.ice_addresses)

    async def publish(
        self, tracks: Mapping[str, MediaStreamTrack], *, timeout_s: float = 20.0
    ) -> dict[str, str]:
        """Publish ``{source: track}`` (sources: mic, camera, screen); returns mid→source."""
        if self.publish_pc is None:
            self.publish_pc = self._new_peer_connection()
        pc = self.publish_pc
        self._published.update(tracks)
        new = {
            source: pc.addTransceiver(track, direction="sendonly")
            for source, track in tracks.items()
        }
        if self.send_codecs is not None:
            for transceiver in new.values():
                if transceiver.kind == "video":
                    transceiver.setCodecPreferences(video_codec_preferences(self.send_codecs))
        self._pin_addresses(pc)
        await pc.setLocalDescription(await pc.createOffer())  # gathers: non-trickle
        sources = {str(t.mid): source for source, t in new.items()}
        for transceiver in pc.getTransceivers():
            source = getattr(transceiver, "_visioguichet_source", None)
            if source is not None:
                sources.setdefault(str(transceiver.mid), source)
        for source, transceiver in new.items():
            transceiver._visioguichet_source = source  # type: ignore[attr-defined]
        reply = await self.request(
            {"type": "publish", "sdp": pc.localDescription.sdp, "sources": sources},
            timeout_s=timeout_s,
        )
        await pc.setRemoteDescription(RTCSessionDescription(reply["sdp"], "answer"))
        return sources

    async def unpublish(self, source: str) -> None:
        """Stop publishing one source; its m-section goes inactive (a later ``publish``
        of that source adds a new one, as the call page does: aiortc's sender does not
        take a new track's timestamps after ``replaceTrack``)."""
        await self.send({"type": "unpublish", "source": source})
        self._published.pop(source, None)
        if self.publish_pc is None:
            return
        for transceiver in self.publish_pc.getTransceivers():
            if getattr(transceiver, "_visioguichet_source", None) == source:
                transceiver._visioguichet_source = None  # type: ignore[attr-defined]
                transceiver.direction = "inactive"
                transceiver.sender.replaceTrack(None)

    async def restart_ice(self, pc: str) -> None:
        """Start a peer connection over (after a network change).

        ``subscribe``: the server answers with an ``offer`` marked ``restart`` that the
        client answers on a new connection. ``publish``: a new publish connection
        carries the same tracks.
        """
        if pc == "subscribe":
            await self.send({"type": "restart-ice", "pc": "subscribe"})
            return
        await self.send({"type": "restart-ice", "pc": "publish"})
        if self.publish_pc is not None:
            old_pc, self.publish_pc = self.publish_pc, None
            await old_pc.close()
        if self._published:
            await self.publish(dict(self._published))

    async def _offer_loop(self) -> None:
        while True:
            frame = await self._offers.get()
            try:
                await self._answer_offer(frame)
            except Exception:
                log.exception("signaling_client_offer_failed")

    async def _answer_offer(self, frame: dict[str, Any]) -> None:
        if frame.get("restart") and self.subscribe_pc is not None:
            old, self.subscribe_pc = self.subscribe_pc, None
            await old.close()  # the server started a fresh subscribe connection
        if self.subscribe_pc is None:
            self.subscribe_pc = self._new_peer_connection()
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(frame["sdp"], "offer"))
        self._pin_addresses(pc)
        await pc.setLocalDescription(await pc.createAnswer())
        answer: dict[str, Any] = {
            "type": "answer",
            "pc": "subscribe",
            "sdp": pc.localDescription.sdp,
        }
        if "offer_id" in frame:
            answer["offer_id"] = frame["offer_id"]
        await self.send(answer)
        async with self._tracks_changed:
            self.subscribed = {
                str(t["mid"]): TrackInfo(
                    str(t["mid"]), str(t["participant_id"]), str(t["source"]), str(t["kind"])
                )
                for t in frame.get("tracks", [])
            }
            self._tracks_changed.notify_all()

    def track(self, participant_id: str, source: str) -> MediaStreamTrack | None:
        """The received track of that participant's source, if currently subscribed."""
        if self.subscribe_pc is None:
            return None
        for info in self.subscribed.values():
            if info.participant_id == participant_id and info.source == source:
                for transceiver in self.subscribe_pc.getTransceivers():
                    if transceiver.mid == info.mid:
                        return transceiver.receiver.track
        return None

    async def wait_track(
        self, participant_id: str, source: str, *, timeout_s: float = 20.0
    ) -> MediaStreamTrack:
        async with asyncio.timeout(timeout_s), self._tracks_changed:
            await self._tracks_changed.wait_for(
                lambda: self.track(participant_id, source) is not None
            )
        track = self.track(participant_id, source)
        assert track is not None
        return track


def video_codec_preferences(mime_types: Sequence[str]) -> list[Any]:
    """aiortc's video codec capabilities for ``mime_types`` in that order, with RTX (as a
    page's ``setCodecPreferences``)."""
    capabilities = RTCRtpSender.getCapabilities("video").codecs
    wanted = [m.lower() for m in mime_types]
    chosen = sorted(
        (c for c in capabilities if c.mimeType.lower() in wanted),
        key=lambda c: wanted.index(c.mimeType.lower()),
    )
    return chosen + [c for c in capabilities if c.mimeType.lower() == "video/rtx"]
