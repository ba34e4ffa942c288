"""Signalling frames between the node holding a client's WebSocket and the room's node.

Each node subscribes to one Redis pub/sub channel, ``relay:<node>``. The client's node
sends ``open`` (room, subprotocol), then the client's frames as ``in``; the room's
node runs the ordinary ``Session`` over a ``RelayedSocket`` and sends its frames back
as ``out``; either side ends with ``close``. Frames for a connection the room's node
does not hold (it restarted under the same id) get ``lost``: the client rejoins.
Frames travel as they came off the wire: the client's node decodes nothing but the
first ``join``.

Why pub/sub, not streams: the relay is a connection, like the WebSocket it extends.
Redis delivers one publisher's messages on one channel in order (each node publishes
over a single connection), and loses them only when a subscriber's connection drops,
which is exactly when the relayed connection is lost anyway (the client rejoins and
gets the room's state afresh, as after any dropped WebSocket). Streams would add a
write, a trim and an acknowledgement per frame to replay what a rejoin resends
anyway; pub/sub costs one ``PUBLISH`` per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, Protocol

import msgpack
import structlog
from aiohttp import WSMessage, WSMsgType, web
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from signaling import codec
from signaling.errors import FrameRefused
from signaling.rate_limit import TokenBucket

log = structlog.get_logger(__name__)

CLOSE_SERVICE_RESTART = 1012  # RFC 6455: the server restarts, reconnect
NODE_LOST_MESSAGE = "the call's server stopped; rejoin to continue the call"
RECONNECT_S = 0.5


class RelayListener(Protocol):
    """The room's node runs a relayed participant's session (the signalling server)."""

    def run_relayed(self, socket: RelayedSocket) -> None: ...


class RelayBus:
    """This node's end of the relay: its channel, and the connections relayed both ways."""

    def __init__(
        self,
        redis_url: str,
        publisher: aioredis.Redis,
        *,
        node_id: str,
        key_prefix: str,
    ) -> None:
        self.node_id = node_id
        self._prefix = key_prefix
        self._publisher = publisher
        self._subscriber = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2.0)
        self._listener: RelayListener | None = None
        self.hosted: dict[str, RelayedSocket] = {}  # conn id -> session's socket (room node)
        self.relayed: dict[str, ClientRelay] = {}  # conn id -> client's WebSocket (its node)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        self._replies: set[asyncio.Task[bool]] = set()

    def attach(self, listener: RelayListener) -> None:
        self._listener = listener

    def channel_of(self, node_id: str) -> str:
        return f"{self._prefix}relay:{node_id}"

    @property
    def subscribed(self) -> bool:
        return self._subscribed.is_set()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="relay-listen")
        await asyncio.wait_for(self._subscribed.wait(), timeout=5.0)

    async def stop_listening(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._subscribed.clear()

    async def close(self) -> None:
        await self.stop_listening()
        with contextlib.suppress(RedisError, OSError):
            await self._subscriber.aclose()

    async def publish(self, node_id: str, kind: str, conn: str, payload: Any) -> bool:
        """Send one relay message; False if Redis could not take it (the message is
        lost: only a relayed connection's frames are, never a call's media)."""
        try:
            await self._publisher.publish(
                self.channel_of(node_id),
                msgpack.packb([kind, conn, payload, self.node_id], use_bin_type=True),
            )
        except (RedisError, OSError) as exc:
            log.warning("relay_publish_failed", node=node_id, kind=kind, error=str(exc))
            return False
        return True

    # --- the connections ------------------------------------------------------------

    def peer_nodes(self) -> set[str]:
        """The nodes at the other end of this node's relayed connections."""
        peers = {relay.target for relay in self.relayed.values()}
        peers.update(socket.origin for socket in self.hosted.values())
        return peers

    def peer_lost(self, node_id: str) -> None:
        """``node_id`` died: its clients rejoin elsewhere, its relayed sessions here end."""
        for relay in list(self.relayed.values()):
            if relay.target == node_id:
                relay.node_lost()
        for socket in list(self.hosted.values()):
            if socket.origin == node_id:
                socket.end()

    # --- receiving -------------------------------------------------------------------

    async def _listen(self) -> None:
        channel = self.channel_of(self.node_id)
        while True:
            pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._dispatch(message["data"])
            except (RedisError, OSError) as exc:
                if self._subscribed.is_set():
                    log.warning("relay_subscription_lost", error=str(exc))
                self._subscribed.clear()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(RECONNECT_S)

    def _dispatch(self, data: bytes) -> None:
        try:
            kind, conn, payload, sender = msgpack.unpackb(data, raw=False)
        except Exception:
            log.warning("relay_bad_message")
            return
        if kind == "open":
            self._open(conn, payload)
        elif kind == "in":
            socket = self.hosted.get(conn)
            if socket is not None:
                socket.receive(payload)
            else:  # not a session of this node (it restarted under the same id): rejoin
                self._reply(sender, "lost", conn)
        elif kind == "lost":
            if (relay := self.relayed.get(conn)) is not None:
                relay.node_lost()
        elif kind == "out":
            relay = self.relayed.get(conn)
            if relay is not None:
                relay.deliver(payload)
        elif kind == "close":
            if (socket := self.hosted.get(conn)) is not None:
                socket.end()
            if (relay := self.relayed.get(conn)) is not None:
                relay.closed_by_room(int(payload))

    def _reply(self, node_id: str, kind: str, conn: str) -> None:
        task = asyncio.create_task(self.publish(node_id, kind, conn, 0), name="relay-reply")
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    def _open(self, conn: str, payload: dict[str, Any]) -> None:
        origin = str(payload.get("from", ""))
        if self._listener is None or conn in self.hosted:
            return
        socket = RelayedSocket(self, conn, origin=origin, protocol=payload.get("protocol"))
        self.hosted[conn] = socket
        self._listener.run_relayed(socket)


class RelayedSocket:
    """The room node's stand-in for a WebSocket held by another node: what a ``Session``
    reads comes from the relay, what it sends goes back through it."""

    def __init__(self, bus: RelayBus, conn: str, *, origin: str, protocol: str | None) -> None:
        self._bus = bus
        self.conn = conn
        self.origin = origin
        self.ws_protocol = protocol
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def receive(self, data: str | bytes) -> None:
        if not self._closed:
            self._inbox.put_nowait(data)

    def end(self) -> None:
        """The client's side is gone (it closed, or its node died)."""
        self._inbox.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[WSMessage]:
        while True:
            data = await self._inbox.get()
            if data is None:
                return
            kind = WSMsgType.BINARY if isinstance(data, bytes) else WSMsgType.TEXT
            yield WSMessage(kind, data, None)

    async def send_str(self, data: str) -> None:
        await self._bus.publish(self.origin, "out", self.conn, data)

    async def send_bytes(self, data: bytes) -> None:
        await self._bus.publish(self.origin, "out", self.conn, data)

    async def refuse(self) -> None:
        """This node stops and takes no session: the client reconnects elsewhere."""
        await self.close(code=1001)

    async def close(self, *, code: int = 1000) -> bool:
        if self._closed:
            return False
        self._closed = True
        self._inbox.put_nowait(None)
        self._bus.hosted.pop(self.conn, None)
        await self._bus.publish(self.origin, "close", self.conn, code)
        return True


class ClientRelay:
    """The client node's side: one client WebSocket whose room lives on ``target``."""

    def __init__(
        self,
        bus: RelayBus,
        ws: web.WebSocketResponse,
        *,
        target: str,
        room: str,
        queue_frames: int,
        limit: TokenBucket,
        max_frame_bytes: int,
    ) -> None:
        self._bus = bus
        self._ws = ws
        self.target = target
        self.room = room
        self.conn = uuid.uuid4().hex
        self._outbox: asyncio.Queue[str | bytes | int] = asyncio.Queue(queue_frames)
        self._ended = False
        self._limit = limit
        self._max_frame_bytes = max_frame_bytes

    async def run(self, first: str | bytes) -> None:
        """Relay until either side closes; ``first`` is the ``join`` already read."""
        self._bus.relayed[self.conn] = self
        writer = asyncio.create_task(self._write_loop(), name="relay-writer")
        try:
            opened = {
                "from": self._bus.node_id,
                "room": self.room,
                "protocol": self._ws.ws_protocol,
            }
            if not await self._bus.publish(self.target, "open", self.conn, opened):
                self.node_lost()
            else:
                await self._bus.publish(self.target, "in", self.conn, first)
            async for message in self._ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    refusal = self._refusal(message.data)
                    if refusal is None:
                        await self._bus.publish(self.target, "in", self.conn, message.data)
                    else:
                        self.deliver(self._encoded(refusal.to_frame()))
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self._bus.relayed.pop(self.conn, None)
            if not self._ended:
                await self._bus.publish(self.target, "close", self.conn, 1000)
            self._stop(1000)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), timeout=2.0)
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _refusal(self, data: str | bytes) -> FrameRefused | None:
        """A flood stops here, as the room's node would stop it, before it reaches
        Redis: a pub/sub subscriber that cannot keep up is cut off by Redis, and then
        every connection relayed to that node would be lost."""
        size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "replace"))
        if size > self._max_frame_bytes:
            return FrameRefused("too-large", f"frame exceeds {self._max_frame_bytes} bytes")
        if not self._limit.take():
            return FrameRefused("rate-limited", "too many frames; slow down")
        return None

    def _encoded(self, frame: dict[str, Any]) -> str | bytes:
        if self._ws.ws_protocol == codec.MSGPACK_SUBPROTOCOL:
            return codec.encode_binary(frame)
        return codec.encode_text(frame)

    def deliver(self, data: str | bytes) -> None:
        try:
            self._outbox.put_nowait(data)
        except asyncio.QueueFull:
            log.warning("relay_client_too_slow", room=self.room)
            self._stop(1013)

    def closed_by_room(self, code: int) -> None:
        self._ended = True
        self._stop(code)

    def node_lost(self) -> None:
        """The room's node died: say so (non-fatal: rejoin), then close."""
        if self._ended:
            return
        self._ended = True
        frame = {"type": "error", "code": "node-lost", "message": NODE_LOST_MESSAGE}
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(self._encoded(frame))
        self._stop(CLOSE_SERVICE_RESTART)

    def shutdown(self) -> None:
        """This node stops: close with 1001 so the client reconnects elsewhere."""
        self._stop(1001)

    def _stop(self, code: int) -> None:
        while self._outbox.full():
            self._outbox.get_nowait()
        self._outbox.put_nowait(code)

    async def _write_loop(self) -> None:
        while True:
            item = await self._outbox.get()
            if isinstance(item, int):
                with contextlib.suppress(Exception):
                    await self._ws.close(code=item)
                return
            try:
                if isinstance(item, bytes):
                    await self._ws.send_bytes(item)
                else:
                    await self._ws.send_str(item)
            except (ConnectionError, RuntimeError):
                return
