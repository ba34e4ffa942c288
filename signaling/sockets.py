"""What a ``Session`` reads frames from and writes frames to.

Usually the client's own WebSocket; with several nodes, also a WebSocket whose first
frame was already read to find the room's node (``PeekedSocket``), or a connection
held by another node and relayed through Redis (``relay.RelayedSocket``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from aiohttp import WSMessage, web


class ClientSocket(Protocol):
    @property
    def ws_protocol(self) -> str | None: ...

    @property
    def closed(self) -> bool: ...

    def __aiter__(self) -> AsyncIterator[WSMessage]: ...

    async def send_str(self, data: str) -> None: ...

    async def send_bytes(self, data: bytes) -> None: ...

    async def close(self, *, code: int = ...) -> Any: ...


class PeekedSocket:
    """A WebSocket whose first message was read already: it is read again first."""

    def __init__(self, ws: web.WebSocketResponse, first: WSMessage) -> None:
        self._ws = ws
        self._first: WSMessage | None = first

    @property
    def ws_protocol(self) -> str | None:
        return self._ws.ws_protocol

    @property
    def closed(self) -> bool:
        return self._ws.closed

    def __aiter__(self) -> AsyncIterator[WSMessage]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[WSMessage]:
        if self._first is not None:
            first, self._first = self._first, None
            yield first
        async for message in self._ws:
            yield message

    async def send_str(self, data: str) -> None:
        await self._ws.send_str(data)

    async def send_bytes(self, data: bytes) -> None:
        await self._ws.send_bytes(data)

    async def close(self, *, code: int = 1000) -> bool:
        return await self._ws.close(code=code)
