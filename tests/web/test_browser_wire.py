"""Chromium's own consent checks and RTCP through the SFU's byte-level paths.

``sfu/ice_consent.py`` and ``sfu/rtcp_wire.py`` read and write STUN and RTCP without
aioice's and aiortc's parsers; aiortc peers are tested against them in ``tests/sfu``.
This checks what a browser actually sends: in a real call between two Chromium pages,
every RTCP compound is accepted, the browser's consent checks are answered by the fast
path (none left to aioice), ours are confirmed by the browser, and receiver reports
reach the consumers. And the checks Chromium sends from its other interfaces' addresses
are dropped: the pair in use is the loopback one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from playwright.sync_api import Browser

from sfu import Sfu
from tests.web.call_server import CallServer, open_call, run_call_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallServer]:
    with run_call_server(tmp_path_factory.mktemp("call-server")) as server:
        yield server


def wire_counts(sfu: Sfu, room_id: str) -> list[dict[str, Any]]:
    """Per SFU connection of the room: what its byte-level paths did."""
    counts = []
    room = sfu.get_room(room_id)
    assert room is not None
    for participant in room.participants.values():
        for name, pc in (
            ("publish", participant._publish_pc),
            ("subscribe", participant._subscribe_pc),
        ):
            fast_path = pc.fast_path if pc is not None else None
            if pc is None or fast_path is None or fast_path.consent is None:
                continue
            counts.append(
                {
                    "pc": f"{participant.id}/{name}",
                    "remote": sorted(
                        {pair.remote_addr[0] for pair in fast_path._connection._nominated.values()}
                    ),
                    "rtcp_rejected": fast_path.rtcp_rejected,
                    "srtp_errors": fast_path.srtp_errors,
                    "answered": fast_path.consent.answered,
                    "passed": fast_path.consent.passed,
                    "refused": pc.refused_datagrams,
                    "confirmed": fast_path.consent.confirmed,
                    "receiver_reports": sum(
                        c.receiver_reports for c in participant.consumers.values()
                    )
                    if name == "subscribe"
                    else None,
                }
            )
    return counts


def read(server: CallServer, room_id: str) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return wire_counts(server.sfu, room_id)

    future: Future[list[dict[str, Any]]] = asyncio.run_coroutine_threadsafe(collect(), server.loop)
    return future.result(timeout=10)


def first(counts: list[dict[str, Any]], like: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in counts if c["pc"] == like["pc"])


def wait_for(
    server: CallServer, room: str, done: Callable[[dict[str, Any]], bool], timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The counts once ``done`` holds for all four connections (bounded in time)."""
    deadline = time.monotonic() + timeout_s
    counts = read(server, room)
    while not (len(counts) == 4 and all(done(c) for c in counts)):
        assert time.monotonic() < deadline, counts
        time.sleep(0.5)
        counts = read(server, room)
    return counts


def test_chromium_consent_and_rtcp_go_through_the_byte_level_paths(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-wire-{uuid.uuid4().hex[:8]}"
    agent, citizen = open_call(browser, call_server, room)
    # once every connection has answered a check (its set-up ones, with nominations,
    # may go to aioice), the steady state: Chromium checks a stable pair every 2.5 s,
    # we check every 5 s ± 20 %
    before = wait_for(call_server, room, lambda c: c["answered"] >= 1)
    after = wait_for(
        call_server,
        room,
        lambda c: (
            c["answered"] >= first(before, c)["answered"] + 2
            and c["confirmed"] >= first(before, c)["confirmed"] + 1
        ),
    )
    for connection in after:
        settled = first(before, connection)
        # every check the fast path did not answer came from an address outside the
        # allowed networks, and was dropped there: none went to aioice
        passed = connection["passed"] - settled["passed"]
        assert passed <= connection["refused"] - settled["refused"], (before, after)
        assert connection["rtcp_rejected"] == 0, after
        # Chromium also checks from its other interfaces: never answered, never nominated
        assert connection["remote"] == ["127.0.0.1"], after
        assert connection["srtp_errors"] == 0, after
        if connection["receiver_reports"] is not None:
            assert connection["receiver_reports"] >= 2, after
    for page in (agent, citizen):
        page.context.close()
