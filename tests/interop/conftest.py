"""Interop tests run against the same real signalling server and in-process SFU as
``tests/signaling`` (aiohttp on 127.0.0.1, aiortc clients)."""

from tests.signaling.conftest import harness, make_harness

__all__ = ["harness", "make_harness"]
