"""A minimal client of Janus's HTTP API and VideoRoom plugin, for the bench's bots.

One Janus session per bot, with a publisher handle and a subscriber handle. A single
long-poll task per session receives the asynchronous events (plugin replies with
their JSEP, ``webrtcup``) and hands them to whoever waits for that handle.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import defaultdict
from typing import Any

import aiohttp

VIDEOROOM = "janus.plugin.videoroom"
EVENT_TIMEOUT_S = 15.0


class JanusError(RuntimeError):
    """Janus answered an error."""


class JanusSession:
    """``await JanusSession.create(http, api_url)``; ``await session.close()``."""

    def __init__(self, http: aiohttp.ClientSession, api_url: str, session_id: int) -> None:
        self.http = http
        self.api_url = api_url
        self.session_id = session_id
        self._events: dict[int, asyncio.Queue[dict[str, Any]]] = defaultdict(
            lambda: asyncio.Queue(256)
        )
        self._poller: asyncio.Task[None] | None = None

    @classmethod
    async def create(cls, http: aiohttp.ClientSession, api_url: str) -> JanusSession:
        reply = await _post(http, api_url, {"janus": "create"})
        session = cls(http, api_url, int(reply["data"]["id"]))
        session._poller = asyncio.create_task(session._poll(), name="janus-long-poll")
        return session

    @property
    def url(self) -> str:
        return f"{self.api_url}/{self.session_id}"

    async def attach(self) -> int:
        reply = await _post(self.http, self.url, {"janus": "attach", "plugin": VIDEOROOM})
        return int(reply["data"]["id"])

    async def message(
        self, handle: int, body: dict[str, Any], jsep: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Send a plugin message; returns the synchronous reply or the async event."""
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        reply = await _post(self.http, f"{self.url}/{handle}", request)
        if reply.get("janus") == "ack":
            return await self.next_event(handle, "event")
        return reply

    async def next_event(self, handle: int, kind: str) -> dict[str, Any]:
        async with asyncio.timeout(EVENT_TIMEOUT_S):
            while True:
                event = await self._events[handle].get()
                if event.get("janus") == kind:
                    data = event.get("plugindata", {}).get("data", {})
                    if "error" in data:
                        raise JanusError(str(data["error"]))
                    return event

    async def _poll(self) -> None:
        while True:
            try:
                async with self.http.get(
                    self.url, params={"maxev": "20"}, timeout=aiohttp.ClientTimeout(total=40)
                ) as response:
                    payload = await response.json(content_type=None)
            except (aiohttp.ClientError, TimeoutError):
                await asyncio.sleep(0.2)
                continue
            events = payload if isinstance(payload, list) else [payload]
            for event in events:
                sender = event.get("sender")
                if sender is None:
                    continue
                queue = self._events[int(sender)]
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(event)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        with contextlib.suppress(aiohttp.ClientError, JanusError, TimeoutError):
            await _post(self.http, self.url, {"janus": "destroy"})


async def _post(http: aiohttp.ClientSession, url: str, request: dict[str, Any]) -> dict[str, Any]:
    body = {**request, "transaction": secrets.token_hex(6)}
    async with http.post(url, json=body, timeout=aiohttp.ClientTimeout(total=15)) as response:
        reply: dict[str, Any] = await response.json(content_type=None)
    if reply.get("janus") == "error":
        raise JanusError(str(reply.get("error")))
    data = reply.get("plugindata", {}).get("data", {})
    if isinstance(data, dict) and "error" in data:
        raise JanusError(str(data["error"]))
    return reply


async def create_room(session: JanusSession, handle: int, room: int, publishers: int) -> None:
    await session.message(
        handle,
        {
            "request": "create",
            "room": room,
            "publishers": publishers,
            "audiocodec": "opus",
            "videocodec": "vp8",
            "bitrate": 2_000_000,
            "fir_freq": 0,
            "is_private": True,
        },
    )
