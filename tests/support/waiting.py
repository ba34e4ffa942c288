"""Bounded waiting for asynchronous tests: every loop ends, pass or fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.1) -> bool:
    """Whether ``condition()`` became true within ``timeout_s`` (checked every ``poll_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(poll_s)
    return condition()
