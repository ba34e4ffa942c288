"""aiortc participants for calls across nodes: join, publish a coloured camera, prove
the other's frames decode, and rejoin after a node is lost as the call page does."""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import av
import numpy as np

from signaling.client import SignalingClient, SignalingError
from tests.signaling.media_sources import ColourVideoTrack

RED = (220, 30, 30)
BLUE = (30, 30, 220)


async def join_and_publish(
    ws_url: str, token: str, colour: tuple[int, int, int]
) -> SignalingClient:
    client = SignalingClient(ws_url, ice_addresses=("127.0.0.1",))
    await client.connect()
    try:
        reply = await client.join(token)
        if reply["type"] != "joined":
            raise SignalingError(reply)
        await client.publish({"camera": ColourVideoTrack(colour, fps=15)})
    except BaseException:
        await client.close()
        raise
    return client


async def decodes(
    client: SignalingClient,
    other: str,
    colour: tuple[int, int, int],
    *,
    frames: int = 5,
    timeout_s: float = 20.0,
) -> None:
    """``frames`` of the other's camera decode, in its colour, within ``timeout_s``."""
    async with asyncio.timeout(timeout_s):
        track = await client.wait_track(other, "camera", timeout_s=timeout_s)
        for _ in range(frames):
            frame = await track.recv()
            assert isinstance(frame, av.VideoFrame)
            mean = frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
            assert np.allclose(mean, colour, atol=40), f"decoded {mean}, expected {colour}"


async def rejoin(
    ws_url: str, token: str, colour: tuple[int, int, int], *, deadline: float
) -> SignalingClient:
    """Connect and join again until it works (as the call page does after a close)."""
    while True:
        try:
            return await join_and_publish(ws_url, token, colour)
        except (SignalingError, aiohttp.ClientError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def close_all(*clients: SignalingClient | None) -> None:
    for client in clients:
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
