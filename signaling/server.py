"""The signalling server: accepts WebSockets at ``/ws`` and owns rooms and sessions.

One ``SignalingServer`` per process, built by the composition with the SFU, a token
verifier, an optional room admission and an optional call-event listener. It creates
its parts and hands each what it needs, so no part imports this module: the
``CallRooms`` registry (which listens to its rooms), the ``FrameHandlers``, and per
connection a ``Session`` with the handlers, the ``OwnedTasks`` and the counters.
``close()`` cascades down: every connection (1001, so clients reconnect), the work
they left running, every room's media, then the event dispatcher.

With a ``Cluster`` (several nodes on Redis), a connection's first frame decides where
it is served: a ``join`` whose room is placed on another node is relayed there
(``relay.ClientRelay``), so a room's call state and SFU live on one node only, and
sessions relayed here from other nodes run like local ones over a ``RelayedSocket``.
Without one, nothing of that runs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import WSMessage, WSMsgType, web

import sfu
from signaling import codec
from signaling.call_events import CallEventDispatcher, CallEventListener
from signaling.call_room import CallRoom
from signaling.call_rooms import CallRooms
from signaling.cluster import Cluster, ClusterUnavailable, LocalCounts
from signaling.config import SignalingConfig
from signaling.counters import SignalingCounters
from signaling.errors import FrameRefused, TokenRejected
from signaling.frames import frame_ref
from signaling.handlers import FrameHandlers
from signaling.owned_tasks import OwnedTasks
from signaling.rate_limit import TokenBucket
from signaling.relay import ClientRelay, RelayedSocket
from signaling.routing import LocalRoomRouting, RoomRouting
from signaling.session import CLOSE_REFUSED, CLOSE_TRY_AGAIN_LATER, Session, SessionState
from signaling.sockets import ClientSocket, PeekedSocket
from signaling.verifier import RoomAdmission, TokenVerifier

log = structlog.get_logger(__name__)


class SignalingServer:
    def __init__(
        self,
        sfu: sfu.Sfu,
        verifier: TokenVerifier,
        *,
        listener: CallEventListener | None = None,
        config: SignalingConfig = SignalingConfig(),  # noqa: B008 (frozen, shared safely)
        routing: RoomRouting | None = None,
        admission: RoomAdmission | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.sfu = sfu
        self.verifier = verifier
        self.config = config
        self.routing: RoomRouting = routing or LocalRoomRouting()
        self.events = CallEventDispatcher(listener)
        self.counters = SignalingCounters()
        self.rooms = CallRooms(sfu, self.routing, self.events, config)
        self.handlers = FrameHandlers(
            self.rooms,
            sfu=sfu,
            verifier=verifier,
            admission=admission,
            routing=self.routing,
            config=config,
        )
        self._sessions: set[Session] = set()
        self._handler_tasks: set[asyncio.Task[Any]] = set()
        self._owned = OwnedTasks()
        self._closing = False
        self._relays: set[ClientRelay] = set()
        self.cluster = cluster
        if cluster is not None:
            cluster.attach(self)

    @property
    def admission(self) -> RoomAdmission | None:
        """Asked on every ``join`` and ``probe``; the composition may set it after
        construction, once the booking side exists."""
        return self.handlers.admission

    @admission.setter
    def admission(self, admission: RoomAdmission | None) -> None:
        self.handlers.admission = admission

    # --- aiohttp handler -------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(
            protocols=codec.SUBPROTOCOLS,
            max_msg_size=self.config.hard_frame_limit_bytes,
            heartbeat=self.config.heartbeat_s,
        )
        await ws.prepare(request)
        if self._closing:
            await ws.close(code=1001)
            return ws
        if self.cluster is None:
            await self._run_session(ws)
        else:
            await self._route(ws, self.cluster)
        return ws

    async def _run_session(self, ws: ClientSocket) -> None:
        session = Session(
            ws,
            config=self.config,
            frames=self.handlers,
            tasks=self._owned,
            counters=self.counters,
        )
        task = asyncio.current_task()
        self._sessions.add(session)
        if task is not None:
            self._handler_tasks.add(task)
        self.counters.connections_total += 1
        try:
            await session.run()
        finally:
            self._sessions.discard(session)
            if task is not None:
                self._handler_tasks.discard(task)

    # --- several nodes ---------------------------------------------------------------

    async def _route(self, ws: web.WebSocketResponse, cluster: Cluster) -> None:
        """Serve here, or relay to the node the first frame's room is placed on."""
        first = await self._first_frame(ws)
        if first is None:
            return
        room = self._joined_room(_decoded(first.data))
        node = cluster.node_id
        if room is not None:
            try:
                node = await cluster.place(room)
            except ClusterUnavailable as exc:
                log.warning("signaling_placement_failed", room=room, error=str(exc))
                refusal = FrameRefused("node-lost", "the call cannot be reached now; rejoin")
                await _refuse(ws, refusal, close_code=CLOSE_TRY_AGAIN_LATER)
                return
        if node == cluster.node_id:
            await self._run_session(PeekedSocket(ws, first))
            return
        relay = ClientRelay(
            cluster.relay,
            ws,
            target=node,
            room=room or "",
            queue_frames=self.config.send_queue_frames,
            limit=TokenBucket(self.config.rate_per_s, self.config.rate_burst),
            max_frame_bytes=self.config.max_frame_bytes,
        )
        task = asyncio.current_task()
        self._relays.add(relay)
        if task is not None:
            self._handler_tasks.add(task)
        try:
            await relay.run(first.data)
        finally:
            self._relays.discard(relay)
            if task is not None:
                self._handler_tasks.discard(task)

    async def _first_frame(self, ws: web.WebSocketResponse) -> WSMessage | None:
        """The connection's first frame other than ``ping``; None if the socket closed
        or no frame came within the join timeout (then ``join-timeout`` was sent).

        Pings before ``join`` are answered here (the pre-call check times them), so
        that the ``join`` after them still finds its room's node; past ``rate_burst``
        of them, the session answers, and limits them as usual."""
        loop = asyncio.get_running_loop()
        timeout = self.config.join_timeout_s
        deadline = loop.time() + timeout
        for _ in range(self.config.rate_burst):
            try:
                message = await ws.receive(timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                await _refuse(
                    ws, FrameRefused("join-timeout", f"no valid join within {timeout:g} s")
                )
                return None
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                return None
            frame = _decoded(message.data)
            if frame is None or frame.get("type") != "ping":
                return message
            try:
                ref = frame_ref(frame)
            except FrameRefused:
                return message  # the session refuses the bad id
            await _send(ws, {"type": "pong"} if ref is None else {"type": "pong", "ref": ref})
        return message

    def _joined_room(self, frame: dict[str, Any] | None) -> str | None:
        """The room a ``join`` frame's genuine token names; None for anything else (it is
        served here, where the session refuses it as usual)."""
        if frame is None or frame.get("type") != "join":
            return None
        try:
            return self.verifier.verify(frame.get("token")).room
        except TokenRejected:
            return None

    def run_relayed(self, socket: RelayedSocket) -> None:
        """A participant whose WebSocket another node holds joins a room here."""
        if self._closing:
            self._owned.start(socket.refuse(), name="signaling-relay-refused")
            return
        self._owned.start(self._run_session(socket), name="signaling-relayed-session")

    def local_counts(self) -> LocalCounts:
        totals = self.sfu.stats().get("totals", {})
        participants = sum(1 for s in self._sessions if s.state is SessionState.JOINED)
        return LocalCounts(
            rooms=len(self.rooms),
            participants=participants,
            packets_forwarded=int(totals.get("packets_out", 0)),
        )

    def room_moved(self, room: str) -> None:
        for session in list(self._sessions):
            if session.room is not None and session.room.id == room:
                session.node_lost("the call moved to another server; rejoin to continue it")

    def local_rooms(self) -> list[str]:
        return self.rooms.ids()

    # --- rooms -----------------------------------------------------------------------

    async def room_for(self, room_id: str, *, role: str) -> CallRoom:
        """The room's signalling state, opening it (and its SFU room) if needed."""
        return await self.rooms.open(room_id, role=role)

    async def close_room(self, room_id: str, *, code: str, message: str) -> bool:
        """End a live call that may no longer go on (its booking was cancelled or
        closed): members get ``end`` with ``reason: code`` and ``message``, the lobby
        the fatal error ``code``. Returns whether a call was open here."""
        return await self.rooms.end(room_id, code=code, message=message)

    # --- counters --------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        sessions = list(self._sessions)
        counters = self.counters
        return {
            "connections": len(sessions),
            "connections_total": counters.connections_total,
            "participants": sum(1 for s in sessions if s.state is SessionState.JOINED),
            "lobby_waiting": sum(1 for s in sessions if s.state is SessionState.LOBBY),
            "rooms": len(self.rooms),
            "frames_in": counters.frames_in,
            "frames_out": counters.frames_out,
            "frames_dropped": counters.frames_dropped,
            "call_events_dropped": self.events.dropped,
            "errors": dict(counters.errors),
        }

    # --- shutdown --------------------------------------------------------------------

    async def close(self) -> None:
        """Close every connection and room; bounded in time."""
        self._closing = True
        if self.cluster is not None:
            await self.cluster.leave()  # rejoins go to live nodes, not back here
        self.rooms.stop_opening()
        for session in list(self._sessions):
            session.shutdown()
        for relay in list(self._relays):
            relay.shutdown()
        pending = [t for t in self._handler_tasks if t is not asyncio.current_task()]
        if pending:
            _done, still = await asyncio.wait(pending, timeout=5.0)
            for task in still:
                task.cancel()
        await self._owned.wait(timeout_s=5.0)
        await self.rooms.close()
        await self.events.close()


def _decoded(data: str | bytes) -> dict[str, Any] | None:
    try:
        return codec.decode_binary(data) if isinstance(data, bytes) else codec.decode_text(data)
    except FrameRefused:
        return None


async def _send(ws: web.WebSocketResponse, frame: dict[str, Any]) -> None:
    """Send one frame before any session exists, in the connection's encoding."""
    try:
        if ws.ws_protocol == codec.MSGPACK_SUBPROTOCOL:
            await ws.send_bytes(codec.encode_binary(frame))
        else:
            await ws.send_str(codec.encode_text(frame))
    except (ConnectionError, RuntimeError):
        pass


async def _refuse(
    ws: web.WebSocketResponse, error: FrameRefused, *, close_code: int = CLOSE_REFUSED
) -> None:
    """Send one ``error`` frame before any session exists, then close."""
    await _send(ws, error.to_frame())
    await ws.close(code=close_code)
