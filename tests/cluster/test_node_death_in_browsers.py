"""Two Chromium call pages on two nodes, the room on a third: killed with ``kill -9``,
both pages rejoin by themselves and decode frames again, on another node."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.cluster.nodes import Node, NodeSet
from tests.cluster.test_node_death import TARGET_S, place_on, room_holder
from tests.support.browser import launch_chromium
from tests.web.journeys import assert_media_resumes, inbound, wait_for_remote_media

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.postgres]
T = TypeVar("T")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch_chromium() as chromium:
        yield chromium


def in_thread(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine apart from Playwright's loop in this thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def enter_call(browser: Browser, node: Node, token: str) -> Page:
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(f"{node.base_url}/call#token={token}")
    enter = page.get_by_role("button", name="Entrer dans le rendez-vous")
    expect(enter).to_be_enabled(timeout=20_000)
    enter.click()
    return page


def media_back_on_new_connection(page: Page, deadline: float) -> None:
    """A subscribe connection other than the one before the kill decodes frames."""
    while time.monotonic() < deadline:
        renewed = page.evaluate("() => window.visioguichet.subscribePc !== window.beforeKill")
        stats = inbound(page)
        if renewed and stats["framesDecoded"] > 5 and stats["audioPackets"] > 10:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"no media on a new connection in time: {inbound(page)}")


def test_pages_rejoin_through_their_nodes_after_the_rooms_node_is_killed(
    browser: Browser, node_set: NodeSet
) -> None:
    a, b, c = (node_set.start(name) for name in ("node-a", "node-b", "node-c"))
    room = "booking-browser-node-death"
    in_thread(place_on(node_set.redis_url, room, b.node_id))
    citizen = enter_call(
        browser, a, node_set.mint(room=room, role="guest", subject="cit", name="Jean Dupont")
    )
    agent = enter_call(
        browser, c, node_set.mint(room=room, role="host", subject="agent", name="Claire Martin")
    )
    for page in (citizen, agent):
        # flowing before the kill: frames and audio keep coming (bounded, not a fixed
        # 1.5 s: a call's first seconds on a loaded machine may hold the picture a moment
        # while it steps up to its first layer)
        wait_for_remote_media(page)
        assert_media_resumes(page, timeout_s=15)
        page.evaluate("() => { window.beforeKill = window.visioguichet.subscribePc; }")

    killed_at = time.monotonic()
    b.kill()
    for page in (citizen, agent):
        media_back_on_new_connection(page, killed_at + TARGET_S)
    back_s = time.monotonic() - killed_at
    print(f"\nkill -9 of the room's node: both pages decode again after {back_s:.1f} s")
    assert in_thread(room_holder(node_set.redis_url, room)) in ("node-a", "node-c")
    for page in (citizen, agent):  # and it goes on (through the new call's layer switches)
        assert_media_resumes(page, timeout_s=15)
