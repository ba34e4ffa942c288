"""One WebSocket connection: its state machine (connecting → lobby → joined → closed),
its outgoing queue and the tasks it owns.

The session reads frames in order, so a client's frames are handled in the order
sent; frames to the client go through a bounded queue drained by one writer task,
so a slow client never blocks the room.

The server creates each session and hands it what it needs: the ``FrameDispatch`` that
handles its frames (``handlers.py``), the ``OwnedTasks`` that keep work the handler's
cancellation must not cut, and the ``SignalingCounters`` it counts into. The session
never calls the server: it leaves its room itself, and the room tells whoever opened
it when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import structlog
from aiohttp import WSMsgType

from signaling import codec
from signaling.call_room import CallRoom
from signaling.config import SignalingConfig
from signaling.counters import SignalingCounters
from signaling.errors import FrameRefused
from signaling.frames import FieldReader, frame_ref
from signaling.owned_tasks import OwnedTasks
from signaling.rate_limit import TokenBucket
from signaling.sockets import ClientSocket

if TYPE_CHECKING:
    import sfu
    from signaling.verifier import Grant

log = structlog.get_logger(__name__)

DROPPABLE_TYPES = frozenset({"quality", "active-speaker"})
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_SERVICE_RESTART = 1012
CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_REFUSED = 4000


class SessionState(enum.Enum):
    CONNECTING = "connecting"
    LOBBY = "lobby"
    JOINED = "joined"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class _Close:
    code: int


class FrameDispatch(Protocol):
    """Handles one decoded client frame for a session (``handlers.FrameHandlers``)."""

    async def dispatch(
        self, session: Session, frame_type: str, reader: FieldReader, ref: str | None
    ) -> None: ...


class Session:
    """Implements routing's ``Mailbox`` and call_room's ``Attendee`` for the participant
    behind one connection."""

    def __init__(
        self,
        ws: ClientSocket,
        *,
        config: SignalingConfig,
        frames: FrameDispatch,
        tasks: OwnedTasks,
        counters: SignalingCounters,
    ) -> None:
        self.config = config
        self._frames = frames
        self._tasks = tasks
        self._counters = counters
        self.ws = ws
        self.binary = ws.ws_protocol == codec.MSGPACK_SUBPROTOCOL
        self.state = SessionState.CONNECTING
        self.grant: Grant | None = None
        self.room: CallRoom | None = None
        self.participant: sfu.Participant | None = None
        self.receive_codecs: tuple[str, ...] | None = None  # from ``join``: what it decodes
        self.candidates_seen = {"publish": 0, "subscribe": 0}
        self.probe_room: Any = None  # sfu.Room of a pre-call media test, closed on leave
        self.leave_reason = "disconnect"
        self._queue: asyncio.Queue[dict[str, Any] | _Close] = asyncio.Queue(
            self.config.send_queue_frames
        )
        self._bucket = TokenBucket(self.config.rate_per_s, self.config.rate_burst)
        self._offer_wanted = asyncio.Event()
        self._quality_sent: dict[str, tuple[float, tuple[Any, ...]]] = {}
        self._closing = False
        self._in_flight: asyncio.Task[None] | None = None

    # --- identity (valid once joined or in the lobby) --------------------------------

    @property
    def participant_id(self) -> str:
        assert self.grant is not None
        return self.grant.subject

    @property
    def name(self) -> str:
        assert self.grant is not None
        return self.grant.name

    @property
    def role(self) -> str:
        assert self.grant is not None
        return self.grant.role

    @property
    def ice_servers(self) -> list[dict[str, Any]]:
        return [dict(server) for server in self.config.ice_servers]

    # --- state transitions (called by CallRoom under its lock) -----------------------

    def enter_lobby(self) -> None:
        self.state = SessionState.LOBBY

    def enter_room(self, participant: sfu.Participant) -> None:
        self.participant = participant
        if self.receive_codecs is not None:
            participant.set_receive_codecs(self.receive_codecs)
        self.state = SessionState.JOINED

    # --- outgoing --------------------------------------------------------------------

    def deliver(self, frame: dict[str, Any]) -> None:
        if self._closing:
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            if frame.get("type") in DROPPABLE_TYPES:
                self._counters.frames_dropped += 1
                return
            log.warning("signaling_client_too_slow", queued=self._queue.qsize())
            self._close_now(CLOSE_TRY_AGAIN_LATER, clear=True)

    def refuse(self, error: FrameRefused, ref: str | None = None) -> None:
        self._counters.errors[error.code] += 1
        if error.fatal:
            self._close_with(error.to_frame(ref), CLOSE_REFUSED)
        else:
            self.deliver(error.to_frame(ref))

    def report_connection_failure(self, pc: str, code: str, message: str) -> None:
        """One of this participant's media connections failed (``ice-failed``,
        ``dtls-failed``, ``no-usable-candidate``): an ``error`` naming the ``pc``, so the
        client can restart it (``restart-ice``) or retry through TURN."""
        self._counters.errors[code] += 1
        self.deliver({"type": "error", "code": code, "message": message, "pc": pc})

    def kick(self, code: str, message: str) -> None:
        """Fatal error: send it, then close. Used for denied, replaced, room-ended."""
        self.refuse(FrameRefused(code, message, fatal=True))

    def finish(self, frame: dict[str, Any]) -> None:
        """Send a last frame (``end``), then close normally."""
        self._close_with(frame, CLOSE_NORMAL)

    def finish_quietly(self) -> None:
        """Close normally with no last frame (after ``leave``)."""
        self._close_now(CLOSE_NORMAL, clear=False)

    def node_lost(self, message: str) -> None:
        """This connection's room lives on another node now: say so (``node-lost``,
        not fatal), then close, so the client rejoins and meets the others there."""
        frame = {"type": "error", "code": "node-lost", "message": message}
        self._close_with(frame, CLOSE_SERVICE_RESTART)

    def shutdown(self) -> None:
        """The server stops: close at once with 1001 so clients reconnect elsewhere."""
        self.leave_reason = "shutdown"
        self._close_now(CLOSE_GOING_AWAY, clear=True)

    def request_offer(self) -> None:
        self._offer_wanted.set()

    def send_quality(self, frame: dict[str, Any]) -> None:
        """Send a ``quality`` frame if the state changed or the last one is old enough."""
        key = str(frame["participant_id"])
        state = (frame["layer"], frame["audio_only"], frame["reason"])
        now = time.monotonic()
        last = self._quality_sent.get(key)
        if (
            last is None
            or last[1] != state
            or now - last[0] >= self.config.quality_frame_interval_s
        ):
            self._quality_sent[key] = (now, state)
            self.deliver(frame)

    def _close_with(self, frame: dict[str, Any], code: int) -> None:
        if self._closing:
            return
        self.state = SessionState.CLOSED
        if self._queue.full():
            self._drain_queue()
        self._queue.put_nowait(frame)
        self._close_now(code, clear=False)

    def _close_now(self, code: int, *, clear: bool) -> None:
        if self._closing:
            return
        self.state = SessionState.CLOSED
        self._closing = True
        if clear or self._queue.full():
            self._drain_queue()
        self._queue.put_nowait(_Close(code))

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    # --- the connection's life -------------------------------------------------------

    async def run(self) -> None:
        """Read frames until the connection ends, then leave the room.

        Frame handling and the final clean-up run in ``OwnedTasks`` and are awaited
        through ``shield``: aiohttp may cancel this handler when the peer
        goes away (or the server stops), and a half-done join, ``end`` or removal
        from the SFU must never be left behind.
        """
        tasks = [
            asyncio.create_task(self._write_loop(), name="signaling-writer"),
            asyncio.create_task(self._offer_loop(), name="signaling-offers"),
            asyncio.create_task(self._join_watchdog(), name="signaling-join-timeout"),
        ]
        try:
            async for message in self.ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_message(message.data)
                elif message.type == WSMsgType.ERROR:
                    break
        finally:
            self.state = SessionState.CLOSED
            cleanup = self._tasks.start(self._leave_room(), name="signaling-leave")
            try:
                await asyncio.shield(cleanup)
            finally:
                await self._stop(tasks)

    async def _stop(self, tasks: list[asyncio.Task[None]]) -> None:
        """Flush what is queued (bounded in time), then stop this session's tasks."""
        if not self._closing:
            self._close_now(CLOSE_NORMAL, clear=False)
        try:
            await asyncio.wait({tasks[0]}, timeout=2.0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if not self.ws.closed:
                with contextlib.suppress(Exception):
                    await self.ws.close()

    async def _leave_room(self) -> None:
        if self._in_flight is not None:
            await asyncio.wait({self._in_flight})  # finish the frame being handled first
        if self.probe_room is not None:
            try:
                await self.probe_room.close()
            except Exception:
                log.exception("signaling_probe_close_failed")
            self.probe_room = None
        room = self.room
        if room is None:
            return
        try:
            async with room.lock:
                await room.remove(self, reason=self.leave_reason)
                await room.close_if_empty(reason=self.leave_reason)
        except Exception:
            log.exception("signaling_leave_failed")

    async def _on_message(self, data: str | bytes) -> None:
        self._counters.frames_in += 1
        if self.state is SessionState.CLOSED:
            return
        try:
            if _size(data) > self.config.max_frame_bytes:
                raise FrameRefused(
                    "too-large", f"frame exceeds {self.config.max_frame_bytes} bytes"
                )
            if not self._bucket.take():
                raise FrameRefused("rate-limited", "too many frames; slow down")
            if isinstance(data, bytes):
                frame = codec.decode_binary(data)
            else:
                frame = codec.decode_text(data)
        except FrameRefused as error:
            self.refuse(error)
            return
        self._in_flight = self._tasks.start(self._handle(frame), name="signaling-frame")
        await asyncio.shield(self._in_flight)

    async def _handle(self, frame: dict[str, Any]) -> None:
        ref: str | None = None
        try:
            ref = frame_ref(frame)
            await self._frames.dispatch(self, frame["type"], FieldReader(frame), ref)
        except FrameRefused as error:
            self.refuse(error, ref)
        except Exception:
            log.exception("signaling_frame_failed", frame_type=str(frame.get("type"))[:40])
            self.refuse(FrameRefused("internal", "the server could not handle this frame"), ref)

    async def _write_loop(self) -> None:
        while True:
            item = await self._queue.get()
            if isinstance(item, _Close):
                with contextlib.suppress(Exception):
                    await self.ws.close(code=item.code)
                return
            try:
                binary = codec.encode_binary(item) if self.binary else None
                text = None if self.binary else codec.encode_text(item)
            except Exception:
                # a frame that cannot be encoded is dropped, never the whole writer:
                # the connection would stay open and silent for good
                self._counters.frames_unencodable += 1
                log.exception("signaling_frame_not_encodable", frame_type=item.get("type"))
                continue
            try:
                if binary is not None:
                    await self.ws.send_bytes(binary)
                elif text is not None:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            self._counters.frames_out += 1

    async def _offer_loop(self) -> None:
        """Sends subscribe offers, coalescing bursts of subscription changes."""
        while True:
            await self._offer_wanted.wait()
            self._offer_wanted.clear()
            participant = self.participant
            if participant is None or self.state is not SessionState.JOINED:
                continue
            try:
                offer = await participant.subscription_offer()
            except Exception:
                log.exception("subscription_offer_failed")
                continue
            if offer is not None:
                self.deliver(offer_frame(offer))

    async def _join_watchdog(self) -> None:
        await asyncio.sleep(self.config.join_timeout_s)
        if self.state is SessionState.CONNECTING:
            self.kick("join-timeout", f"no valid join within {self.config.join_timeout_s:g} s")


def offer_frame(offer: Any, ref: str | None = None, *, restart: bool = False) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "type": "offer",
        "pc": "subscribe",
        "sdp": offer.sdp,
        "offer_id": getattr(offer, "offer_id", 0),
        "tracks": [
            {
                "mid": track.mid,
                "participant_id": track.participant_id,
                "source": track.source,
                "kind": track.kind,
            }
            for track in offer.tracks
        ],
    }
    if restart or getattr(offer, "restart", False):
        frame["restart"] = True
    if ref is not None:
        frame["ref"] = ref
    return frame


def _size(data: str | bytes) -> int:
    if isinstance(data, bytes):
        return len(data)
    return len(data.encode("utf-8"))
