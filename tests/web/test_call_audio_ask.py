"""The call page follows the SFU's ask for less audio (``send-audio``): when a listener's
link cannot carry the speaker's audio, the speaker's browser encodes it at the asked
bitrate, and at its own again once the ask is withdrawn.

Real Chromium pages on the real call room; the SFU runs in this process
(``call_server.py``), so the test decides the citizen's ask in place of its link
(``sfu.audio_fit`` decides it; ``tests/sfu/test_audio_fit.py`` proves that) and reads
what the agent's browser then encodes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.support.waiting import wait_for
from tests.web.call_server import CallServer, open_call, run_call_server

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(180)]

TIMEOUT_S = 20.0

# What the page's microphone sender is told (maxBitrate) and what its encoder aims at.
MIC_SENDER_JS = """
async () => {
  const call = window.visioguichet;
  const mic = call.publishPc?.getTransceivers().find(
    (tr) => tr.sender.track?.kind === "audio" && call.sources[tr.mid]);
  if (!mic) return null;
  let target = null;
  for (const s of (await call.publishPc.getStats()).values()) {
    if (s.type === "outbound-rtp" && s.kind === "audio") target = s.targetBitrate ?? null;
  }
  return {
    source: call.sources[mic.mid],
    max_bitrate: mic.sender.getParameters().encodings[0]?.maxBitrate ?? null,
    target,
  };
}
"""


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallServer]:
    with run_call_server(tmp_path_factory.mktemp("call-server")) as server:
        yield server


class FixedAsk:
    """Stands in for the citizen's ``AudioFit`` (its decision is unit-tested in
    ``tests/sfu/test_audio_fit.py``): the ask the test sets, whatever the link."""

    def __init__(self) -> None:
        self.cap_bps: int | None = None

    def update(self, now: float, audio_only: bool, queue_s: float | None) -> bool:
        return False


def ask_for_audio(server: CallServer, room: str, bps: int | None) -> str:
    """The citizen's link asks for the agent's audio at ``bps`` (None: withdrawn); its
    link adaptation hands the ask to the agent's producer at its next evaluation (at
    most a second). Returns the agent's audio source."""

    async def run() -> str:
        found = server.sfu.get_room(room)
        assert found is not None
        citizen = found.get_participant("citizen-1")
        assert citizen is not None
        link: Any = citizen.link
        if not isinstance(link._audio_fit, FixedAsk):
            link._audio_fit = FixedAsk()
        link._audio_fit.cap_bps = bps
        return next(
            str(c.producer.source)
            for (publisher, _), c in citizen.consumers.items()
            if publisher == "agent-1" and c.producer.kind == "audio"
        )

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(timeout=10)


def mic(page: Page) -> dict[str, Any]:
    found = page.evaluate(MIC_SENDER_JS)
    assert found is not None, "the page publishes no audio"
    return dict(found)


def test_the_speakers_page_encodes_its_audio_at_the_asked_bitrate_until_the_ask_ends(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-audio-ask-{uuid.uuid4().hex[:8]}"
    agent, _citizen = open_call(browser, call_server, room)
    own = mic(agent)
    assert own["max_bitrate"] is None
    assert own["target"] is None or own["target"] > 16_000, own

    source = ask_for_audio(call_server, room, 16_000)
    assert source == own["source"]
    wait_for(
        lambda: mic(agent)["max_bitrate"] == 16_000 and mic(agent)["target"] in (None, 16_000),
        "the agent's browser encoding its audio at 16 kb/s",
        TIMEOUT_S,
    )
    ask_for_audio(call_server, room, 12_000)
    wait_for(
        lambda: mic(agent)["max_bitrate"] == 12_000,
        "the agent's browser encoding its audio at 12 kb/s",
        TIMEOUT_S,
    )
    ask_for_audio(call_server, room, None)
    wait_for(
        lambda: (
            mic(agent) == own | {"target": mic(agent)["target"]}
            and mic(agent)["max_bitrate"] is None
        ),
        "the agent's browser back at its own audio bitrate",
        TIMEOUT_S,
    )
    assert mic(agent)["target"] == own["target"]
