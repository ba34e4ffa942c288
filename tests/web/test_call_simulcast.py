"""The call room publishes its camera as three simulcast layers: the SFU receives all
three from the real call page, a viewer gets the top one, and drops to the lowest (and
back) when it caps what it receives with `set-quality`; the layers nobody receives
meanwhile stop at the publishing page and start again when wanted.

Chromium's fake camera gives the size asked for (the pre-call check asks 960x540), so
the layers are 160, 320 and 640 pixels wide. The SFU runs in this process
(``call_server.py``) so its producers can be read directly.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.waiting import wait_for
from tests.web.call_server import CallServer, open_call, run_call_server

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(300)]

T = TypeVar("T")

WIDTHS = {"q": 160, "h": 320, "f": 640}
LAYER_TIMEOUT_S = 45.0

SENT_WIDTHS_JS = """
async () => {
  const pc = window.visioguichet.publishPc;
  const sizes = {};
  if (!pc) return sizes;
  for (const s of (await pc.getStats()).values()) {
    if (s.type !== "outbound-rtp" || s.kind !== "video" || !s.frameWidth) continue;
    sizes[s.rid || ""] = s.frameWidth;
  }
  return sizes;
}
"""
CAMERA_ENCODINGS_JS = """
() => {
  const call = window.visioguichet;
  const camera = call.publishPc?.getTransceivers().find((tr) => call.sources[tr.mid] === "camera");
  if (!camera) return {};
  return Object.fromEntries(camera.sender.getParameters().encodings.map((e) => [e.rid, e.active]));
}
"""
ALL_ON = {"q": True, "h": True, "f": True}
SCREEN_SENDER_JS = """
() => {
  const { sender } = window.visioguichet.screen.transceiver;
  return { encodings: sender.getParameters().encodings.length, hint: sender.track.contentHint };
}
"""
# Stands in for a browser without simulcast: a transceiver with several encodings is refused.
NO_SIMULCAST_JS = """
(() => {
  const native = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (track, init) {
    if (init && init.sendEncodings && init.sendEncodings.length > 1) {
      throw new DOMException("simulcast not supported", "OperationError");
    }
    return native.call(this, track, init);
  };
})();
"""


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallServer]:
    with run_call_server(tmp_path_factory.mktemp("call-server")) as server:
        yield server


def on_sfu(server: CallServer, room: str, participant_id: str, read: Callable[[Any], T]) -> T:
    """``read(participant)`` (None when absent) on the SFU's own loop."""

    async def run() -> T:
        found = server.sfu.get_room(room)
        return read(found.get_participant(participant_id) if found else None)

    return asyncio.run_coroutine_threadsafe(run(), server.loop).result(timeout=10)


def producer_layers(
    server: CallServer, room: str, participant_id: str, source: str = "camera"
) -> list[dict[str, Any]]:
    """The SFU's view of that participant's source: one entry per layer, lowest first."""

    def read(participant: Any) -> list[dict[str, Any]]:
        producer = participant.producers.get(source) if participant else None
        return producer.dump()["layers"] if producer else []

    return on_sfu(server, room, participant_id, read)


def camera_layers(server: CallServer, room: str, participant_id: str) -> list[dict[str, Any]]:
    return producer_layers(server, room, participant_id, "camera")


def sends_the_three_widths(page: Page) -> bool:
    return bool(page.evaluate(SENT_WIDTHS_JS) == WIDTHS)


def all_layers_flowing(server: CallServer, room: str, participant_id: str) -> bool:
    layers = camera_layers(server, room, participant_id)
    return [x["rid"] for x in layers] == ["q", "h", "f"] and all(
        x["packets"] > 0 and x["bitrate_bps"] > 0 for x in layers
    )


def remote_width(page: Page) -> int:
    return int(page.evaluate("document.getElementById('remote').videoWidth"))


def participant_state(server: CallServer, room: str, participant_id: str) -> dict[str, Any]:
    """The SFU's dump of one participant: its link's layers and reason, for a failure."""
    return on_sfu(server, room, participant_id, lambda p: p.dump() if p else {})


def wait_for_width(
    page: Page,
    width: int,
    what: str,
    timeout_s: float = LAYER_TIMEOUT_S,
    explain: Callable[[], object] | None = None,
) -> None:
    try:
        wait_for(lambda: remote_width(page) == width, f"{what} ({width} px wide)", timeout_s)
    except AssertionError as missed:
        if explain is None:
            raise
        raise AssertionError(f"{missed}; the SFU's view: {explain()!r}") from missed


def audio_arrivals(server: CallServer, room: str, participant_id: str) -> list[dict[str, Any]]:
    """What the SFU reads of the transport-wide feedback on that subscriber's audio."""

    def read(participant: Any) -> list[dict[str, Any]]:
        consumers = participant.consumers.values() if participant else []
        return [c.dump() for c in consumers if c.producer.kind == "audio"]

    return on_sfu(server, room, participant_id, read)


def no_queue(queue_ms: float | None) -> bool:
    return queue_ms is not None and 0 <= queue_ms < 60


def set_quality(page: Page, **frame: Any) -> None:
    page.evaluate(
        "(frame) => window.visioguichet.signaling.send({type: 'set-quality', ...frame})", frame
    )


def test_call_page_publishes_three_layers_and_the_viewer_follows_its_cap(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-simulcast-{uuid.uuid4().hex[:8]}"
    agent, citizen = open_call(browser, call_server, room)

    # Both pages send their camera as three encodings and the SFU receives all of them.
    for page, who in ((agent, "agent-1"), (citizen, "citizen-1")):
        wait_for(
            partial(all_layers_flowing, call_server, room, who),
            f"three layers of {who}",
            LAYER_TIMEOUT_S,
        )
        assert wait_for(partial(sends_the_three_widths, page), "layer sizes", LAYER_TIMEOUT_S)

    # The viewer gets the top layer, the lowest when it caps itself, the top again after.
    wait_for_width(citizen, WIDTHS["f"], "the agent's top layer")
    # Chromium accepts transport-wide numbers on the audio it receives and reports each
    # packet's arrival: the SFU reads the queue on its downlink (none on loopback).
    first = audio_arrivals(call_server, room, "citizen-1")
    assert len(first) == 1 and first[0]["transport_cc_id"] > 0, first
    wait_for(
        lambda: (
            audio_arrivals(call_server, room, "citizen-1")[0]["transport_feedbacks"]
            >= first[0]["transport_feedbacks"] + 10
        ),
        "ten more arrival feedbacks from the citizen's browser",
        LAYER_TIMEOUT_S,
    )
    # (waited for: on a loaded machine a busy moment of either browser delays a whole
    # feedback's packets, and reads for that moment as a queue)
    wait_for(
        lambda: no_queue(audio_arrivals(call_server, room, "citizen-1")[0]["queue_ms"]),
        "no queue on the loopback downlink",
        LAYER_TIMEOUT_S,
    )
    set_quality(citizen, mode="auto", max_layer=0)
    wait_for_width(citizen, WIDTHS["q"], "the lowest layer once capped")
    # The cap is the citizen's own: the agent still gets the citizen's top layer.
    wait_for_width(agent, WIDTHS["f"], "the citizen's top layer")
    assert remote_width(citizen) == WIDTHS["q"]
    # Nobody receives the agent's two upper layers now: after the SFU's delay its page
    # stops encoding them (dynacast, `send-layers`); the citizen's page still sends all.
    wait_for(
        lambda: agent.evaluate(CAMERA_ENCODINGS_JS) == {"q": True, "h": False, "f": False},
        "the agent's unwatched layers stopped",
        LAYER_TIMEOUT_S,
    )
    wait_for(
        lambda: (
            [x["bitrate_bps"] > 0 for x in camera_layers(call_server, room, "agent-1")]
            == [True, False, False]
        ),
        "nothing arriving on the stopped layers",
        LAYER_TIMEOUT_S,
    )
    assert [x["suspended"] for x in camera_layers(call_server, room, "agent-1")] == [
        False,
        True,
        True,
    ]
    # (waited for: the agent's own link adaptation may have held it a moment below the
    # top layer, long enough for the citizen's to stop until it steps back up)
    wait_for(
        lambda: citizen.evaluate(CAMERA_ENCODINGS_JS) == ALL_ON,
        "the citizen's page sending all its layers",
        LAYER_TIMEOUT_S,
    )
    assert remote_width(citizen) == WIDTHS["q"]
    set_quality(citizen, mode="auto")
    # each layer is asked for again as the viewer steps up to it
    wait_for_width(citizen, WIDTHS["f"], "the top layer once the cap is lifted")
    assert agent.evaluate(CAMERA_ENCODINGS_JS) == ALL_ON

    # A network change starts the publish connection over: it is simulcast again.
    old = {x["ssrc"] for x in camera_layers(call_server, room, "agent-1")}
    agent.evaluate("window.visioguichet.restartIce()")
    wait_for(
        lambda: (
            old.isdisjoint(x["ssrc"] for x in camera_layers(call_server, room, "agent-1"))
            and all_layers_flowing(call_server, room, "agent-1")
        ),
        "three new layers after the ICE restart",
        LAYER_TIMEOUT_S,
    )
    # The new connection's estimator starts low again in the agent's browser, and the
    # citizen's link steps up one held layer at a time: a longer, still bounded, wait.
    wait_for_width(
        citizen,
        WIDTHS["f"],
        "the top layer after the ICE restart",
        timeout_s=2 * LAYER_TIMEOUT_S,
        explain=lambda: (
            camera_layers(call_server, room, "agent-1"),
            participant_state(call_server, room, "citizen-1"),
        ),
    )

    # A shared screen stays one encoding, tuned for text.
    agent.get_by_role("button", name="Partager l'écran").click()
    expect(agent.get_by_role("button", name="Arrêter le partage")).to_be_visible(timeout=15_000)
    citizen.wait_for_function(
        "() => document.getElementById('screen').videoWidth > 0", timeout=LAYER_TIMEOUT_S * 1000
    )
    assert agent.evaluate(SCREEN_SENDER_JS) == {"encodings": 1, "hint": "detail"}
    assert len(producer_layers(call_server, room, "agent-1", "screen")) == 1
    for page in (agent, citizen):
        page.context.close()


def test_a_browser_refusing_simulcast_publishes_one_full_size_encoding(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-simulcast-{uuid.uuid4().hex[:8]}"
    agent, citizen = open_call(browser, call_server, room, NO_SIMULCAST_JS)

    wait_for_width(citizen, WIDTHS["f"], "the agent's single encoding")
    layers = camera_layers(call_server, room, "agent-1")
    assert len(layers) == 1 and layers[0]["rid"] is None and layers[0]["packets"] > 0
    assert agent.evaluate(SENT_WIDTHS_JS) == {"": WIDTHS["f"]}
    for page in (agent, citizen):
        page.context.close()
