"""Bounded waiting for asynchronous tests: every loop ends, pass or fail."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


async def until(condition: Callable[[], bool], timeout_s: float, poll_s: float = 0.1) -> bool:
    """Whether ``condition()`` became true within ``timeout_s`` (checked every ``poll_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(poll_s)
    return condition()


def wait_for(check: Callable[[], T], what: str, timeout_s: float, poll_s: float = 0.25) -> T:
    """For synchronous (browser) tests: ``check()``'s first truthy value, or an
    ``AssertionError`` naming ``what`` and the last value after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what} (last: {value!r})"
            )
        time.sleep(poll_s)
