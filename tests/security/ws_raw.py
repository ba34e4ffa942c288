"""A signalling WebSocket that sends exactly the bytes it is given and reports every frame
and close as it comes: the fuzz tests' client (``signaling.client`` would validate and
retry what these tests want to send broken)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import aiohttp
import msgpack

ANSWER_TIMEOUT_S = 5.0


class RawConnection:
    """A WebSocket that sends exactly the bytes given and reports every frame and close."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, http: aiohttp.ClientSession) -> None:
        self.ws = ws
        self.http = http
        self.pings = itertools.count(1)

    @classmethod
    async def open(cls, url: str, *, binary: bool) -> RawConnection:
        http = aiohttp.ClientSession()
        protocols = ("visioguichet.msgpack",) if binary else ()
        ws = await http.ws_connect(url, protocols=protocols, max_msg_size=0)
        return cls(ws, http)

    async def send(self, data: str | bytes) -> None:
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        if self.ws.protocol == "visioguichet.msgpack":
            await self.ws.send_bytes(msgpack.packb(frame, use_bin_type=True))
        else:
            await self.ws.send_str(json.dumps(frame))

    async def receive(self, timeout_s: float) -> dict[str, Any] | None:
        """The next frame, or None once the socket is closed."""
        message = await self.ws.receive(timeout=timeout_s)
        if message.type == aiohttp.WSMsgType.TEXT:
            return dict(json.loads(message.data))
        if message.type == aiohttp.WSMsgType.BINARY:
            return dict(msgpack.unpackb(message.data, raw=False))
        return None

    async def until_pong(self) -> tuple[list[dict[str, Any]], bool]:
        """Send a ping; the frames received before its pong, and whether it came (False:
        the socket closed)."""
        ref = f"probe-{next(self.pings)}"
        await self.send_frame({"type": "ping", "id": ref})
        seen: list[dict[str, Any]] = []
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            while True:
                frame = await self.receive(ANSWER_TIMEOUT_S)
                if frame is None:
                    return seen, False
                if frame.get("ref") == ref:
                    if frame.get("type") == "pong":
                        return seen, True
                    if frame.get("code") == "rate-limited":
                        await asyncio.sleep(1.0)
                        ref = f"probe-{next(self.pings)}"
                        await self.send_frame({"type": "ping", "id": ref})
                        continue
                seen.append(frame)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        await self.http.close()
