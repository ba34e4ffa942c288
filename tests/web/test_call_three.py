"""A call of three real Chromium pages (agent, citizen, interpreter): each page decodes
the two others, shows one large and the other as a tile; the agent pins the
interpreter, whose picture then comes at the top layer while the citizen's thumbnail
comes at the lowest (the page sends each tile's wanted layer with set-quality).

Chromium's fake camera is 960x540 at the pre-call check, so the layers are 160, 320 and
640 pixels wide. The SFU runs in this process (``call_server.py``), read directly.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.waiting import wait_for
from tests.web.call_server import CallServer, enter, open_call, run_call_server

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(300)]

TOP_WIDTH, LOW_WIDTH = 640, 160
MEDIA_TIMEOUT_S = 60.0

# frames decoded per sender, the mids mapped to participants by the offer's `tracks`
DECODED_BY_SENDER_JS = """
async () => {
  const call = window.visioguichet;
  const pc = call && call.subscribePc;
  const out = {};
  if (!pc) return out;
  for (const r of (await pc.getStats()).values()) {
    if (r.type !== "inbound-rtp" || r.kind !== "video" || !r.mid) continue;
    const info = call.tracksByMid.get(r.mid);
    if (!info || info.source !== "camera") continue;
    out[info.participant_id] = (out[info.participant_id] || 0) + (r.framesDecoded || 0);
  }
  return out;
}
"""
TILE_WIDTH_JS = """
(id) => {
  const item = document.querySelector(`#tiles li[data-participant="${id}"] video`);
  return item ? item.videoWidth : -1;
}
"""


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallServer]:
    with run_call_server(tmp_path_factory.mktemp("call-three")) as server:
        yield server


def decodes_both_others(page: Page, others: set[str]) -> bool:
    """Frames from each of the two others decoded, and more of them a moment later."""
    first: dict[str, int] = page.evaluate(DECODED_BY_SENDER_JS)
    if set(first) != others or min(first.values()) == 0:
        return False
    page.wait_for_timeout(700)
    later: dict[str, int] = page.evaluate(DECODED_BY_SENDER_JS)
    return all(later.get(who, 0) > first[who] for who in others)


def layer_received(server: CallServer, room: str, viewer: str, publisher: str) -> Any:
    async def read() -> Any:
        found = server.sfu.get_room(room)
        participant = found.get_participant(viewer) if found else None
        return participant.link.current(publisher).layer if participant else None

    return asyncio.run_coroutine_threadsafe(read(), server.loop).result(timeout=10)


def above_lowest(layer: Any) -> bool:
    return layer is not None and int(layer) >= 1


def wait_until_layers(
    server: CallServer, room: str, wanted: dict[str, Callable[[Any], bool]], what: str
) -> None:
    """Until the agent receives each publisher at a layer ``wanted`` accepts; the layers
    last seen are in the failure."""
    deadline = time.monotonic() + MEDIA_TIMEOUT_S
    layers: dict[str, Any] = {}
    while time.monotonic() < deadline:
        layers = {who: layer_received(server, room, "agent-1", who) for who in wanted}
        if all(accept(layers[who]) for who, accept in wanted.items()):
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}: layers received {layers}")


def test_three_pages_see_each_other_and_a_pinned_interpreter_comes_at_the_top_layer(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-three-{uuid.uuid4().hex[:8]}"
    agent, citizen = open_call(browser, call_server, room)
    interpreter = enter(
        browser,
        call_server,
        call_server.mint(room=room, role="guest", subject="guest-lsf", name="Interprète LSF"),
    )
    ids = {"agent-1": agent, "citizen-1": citizen, "guest-lsf": interpreter}
    for who, page in ids.items():
        others = set(ids) - {who}
        wait_for(
            partial(decodes_both_others, page, others),
            f"{who}'s page to decode the two others",
            MEDIA_TIMEOUT_S,
        )
        # one large picture, one tile with its pin button
        expect(page.locator("#tiles li")).to_have_count(1, timeout=20_000)

    # the agent pins the interpreter: large on the stage, the citizen as a thumbnail
    agent.get_by_role("button", name="Agrandir Interprète LSF").click()
    expect(agent.get_by_role("button", name="Ne plus agrandir Interprète LSF")).to_be_visible()
    expect(agent.locator('#tiles li[data-participant="citizen-1"]')).to_have_count(1)
    wait_until_layers(
        call_server,
        room,
        {"guest-lsf": lambda layer: layer == 2, "citizen-1": lambda layer: layer == 0},
        "the pinned interpreter at the top layer, the citizen's tile at the lowest",
    )
    wait_for(
        lambda: (
            agent.evaluate("document.getElementById('remote').videoWidth") == TOP_WIDTH
            and agent.evaluate(TILE_WIDTH_JS, "citizen-1") == LOW_WIDTH
        ),
        "the pinned picture 640 px wide, the thumbnail 160",
        MEDIA_TIMEOUT_S,
    )
    # unpinned and laid out as a grid, every picture is mid-sized
    agent.get_by_role("button", name="Ne plus agrandir Interprète LSF").click()
    agent.get_by_role("button", name="Tous à la même taille").click()
    wait_until_layers(
        call_server,
        room,
        {"citizen-1": above_lowest, "guest-lsf": above_lowest},
        "both grid tiles above the lowest layer",
    )


def test_a_fifth_participant_is_told_the_call_is_full(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-full-{uuid.uuid4().hex[:8]}"
    signer = call_server
    pages = []
    for subject in ("agent-1", "citizen-1", "guest-2", "guest-3"):
        role = "host" if subject == "agent-1" else "guest"
        token = signer.mint(room=room, role=role, subject=subject, name=subject)
        page = enter(browser, call_server, token)
        expect(page.locator("#room")).to_be_visible(timeout=20_000)
        pages.append(page)
    fifth = enter(
        browser,
        call_server,
        signer.mint(room=room, role="guest", subject="guest-4", name="Zoé"),
    )
    expect(fifth.locator("#status")).to_have_text(
        "Ce rendez-vous réunit déjà 4 personnes : vous ne pouvez pas le rejoindre.",
        timeout=20_000,
    )
    for page in [*pages, fifth]:
        page.context.close()
