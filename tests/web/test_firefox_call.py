"""Firefox ESR (Debian's) in a call with Chromium through the real call page: both see
and hear each other, each publishes its camera in simulcast, VP8 first (the room's
codec), and ``set-quality`` moves each viewer between the smallest and the largest
layer with frames still decoded on both sides.

Firefox offers no loopback candidate, so the test makes a network namespace and a veth
pair (``bench/real_link.py``): the service listens on the host's end (10.77.n.1) and
takes media from the pair's /30 only; Firefox runs inside the namespace (10.77.n.2);
Chromium runs on the host and reaches the service on 10.77.n.1. Firefox is driven over
WebDriver BiDi (``tests/support/firefox.py``).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from bench.chromium import CHROMIUM_FLAGS, CHROMIUM_PATH
from bench.link_call import LinkService, serve_on
from bench.real_link import RealLink, real_link, unavailable_reason
from signaling.client import SignalingClient
from tests.signaling.media_sources import ColourVideoTrack, ToneAudioTrack
from tests.support.firefox import EventLoopThread, FirefoxPage, launch_firefox

NO_LINK = unavailable_reason()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(NO_LINK is not None, reason=f"Firefox needs a network namespace: {NO_LINK}"),
]

MEDIA_TIMEOUT_S = 60.0
LAYER_TIMEOUT_S = 45.0
RISING_TIMEOUT_S = 15.0
SMALLEST_MAX_WIDTH = 200  # the q layer: 160 px wide from a 960x540 capture
LARGEST_MIN_WIDTH = 600  # the f layer: 640 px wide

# What a page receives, read the same way in both browsers.
RECEIVED_JS = """(async () => {
  const pc = window.visioguichet && window.visioguichet.subscribePc;
  const out = {framesDecoded: 0, width: 0, audioPackets: 0, codecs: []};
  if (!pc) return out;
  const stats = await pc.getStats();
  for (const r of stats.values()) {
    if (r.type !== "inbound-rtp") continue;
    if (r.kind === "audio") out.audioPackets += r.packetsReceived || 0;
    if (r.kind !== "video") continue;
    out.framesDecoded += r.framesDecoded || 0;
    out.width = Math.max(out.width, r.frameWidth || 0);
    const codec = r.codecId && stats.get(r.codecId);
    if (codec) out.codecs.push(codec.mimeType);
  }
  if (!out.width) {
    const own = ["self", "preview", "screen"];
    const videos = [...document.querySelectorAll("video")]
      .filter((v) => v.srcObject && !own.includes(v.id));
    out.width = Math.max(0, ...videos.map((v) => v.videoWidth));
  }
  return out;
})()"""

# The video codecs, in order, of the camera's m-section of this page's publish offer.
PUBLISHED_CODECS_JS = """(() => {
  const pc = window.visioguichet.publishPc;
  const sdp = pc && pc.localDescription ? pc.localDescription.sdp : "";
  const section = sdp.split("\\r\\nm=").find((s) => s.startsWith("video"));
  if (!section) return [];
  const order = section.split("\\r\\n")[0].split(" ").slice(3);
  const names = {};
  for (const line of section.split("\\r\\n")) {
    const m = /^a=rtpmap:(\\d+) ([^/]+)/.exec(line);
    if (m) names[m[1]] = m[2];
  }
  const repair = ["rtx", "red", "ulpfec", "flexfec-03"];
  return order.map((pt) => names[pt]).filter((n) => !repair.includes(n));
})()"""


class Side:
    """One end of the call, whichever browser runs it."""

    def __init__(self, name: str, page: Page | FirefoxPage) -> None:
        self.name = name
        self.page = page

    def evaluate(self, expression: str) -> Any:
        if isinstance(self.page, FirefoxPage):
            return self.page.evaluate(expression)
        return self.page.evaluate(f"() => {expression}")

    def received(self) -> dict[str, Any]:
        return dict(self.evaluate(RECEIVED_JS))

    def set_quality(self, **frame: Any) -> None:
        message = json.dumps({"type": "set-quality", **frame})
        self.evaluate(f"window.visioguichet.signaling.send({message})")

    def wait_receiving(self, what: str, accept: Any, timeout_s: float) -> dict[str, Any]:
        """Bounded wait until what this side receives satisfies ``accept``."""
        deadline = time.monotonic() + timeout_s
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.received()
            if accept(last):
                return last
            time.sleep(0.25)
        raise AssertionError(f"{self.name}: {what} not within {timeout_s} s: {last}")

    def assert_frames_rising(self) -> None:
        """Video frames and audio packets keep coming (bounded wait: after a layer switch
        the new layer's first keyframe may take a moment)."""
        first = self.wait_receiving("video frames", lambda r: r["framesDecoded"] > 0, 10)
        self.wait_receiving(
            "more video frames and sound",
            lambda r: (
                r["framesDecoded"] > first["framesDecoded"]
                and r["audioPackets"] > first["audioPackets"]
            ),
            RISING_TIMEOUT_S,
        )


@dataclass
class Setup:
    link: RealLink
    service: LinkService
    firefox: FirefoxPage
    chromium: Page


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    with (
        tempfile.TemporaryDirectory(prefix="vg-firefox-") as scratch,
        real_link() as link,
        serve_on(link, Path(scratch) / "service") as service,
        launch_firefox(
            Path(scratch), namespace=link.namespace, secure_hosts=[link.host_address]
        ) as firefox,
        sync_playwright() as playwright,
    ):
        # getUserMedia exists only in secure contexts, which plain http is only on localhost
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=[
                *CHROMIUM_FLAGS,
                f"--unsafely-treat-insecure-origin-as-secure={service.base_url}",
            ],
        )
        try:
            page = chromium.new_context(locale="fr-FR").new_page()
            yield Setup(link, service, firefox, page)
        finally:
            chromium.close()


def test_firefox_and_chromium_see_and_hear_each_other_and_switch_simulcast_layers(
    setup: Setup,
) -> None:
    service = setup.service
    room = f"bk-firefox-{uuid.uuid4().hex[:8]}"

    # The agent in Chromium, on the host; what its page sends on the signalling socket is kept.
    agent = setup.chromium
    sent: list[dict[str, Any]] = []

    def keep(payload: str | bytes) -> None:
        if isinstance(payload, str):
            sent.append(json.loads(payload))

    agent.on("websocket", lambda socket: socket.on("framesent", keep))
    agent.goto(service.base_url + "/call#token=" + service.mint(
        room=room, role="host", subject="agent-1", name="Claire Martin"
    ))  # fmt: skip
    agent.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=30_000)
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=30_000)

    # The citizen in Firefox, inside the namespace: the same page, the same buttons.
    firefox = setup.firefox
    token = service.mint(room=room, role="guest", subject="citizen-1", name="Jean Dupont")
    firefox.goto(f"{service.base_url}/call#token={token}")
    firefox.wait_for(
        "document.getElementById('precheck').dataset.done === 'true'", "the pre-call check", 45
    )
    # Camera and microphone found, picture and sound reached the server (the network
    # line may say "slow" on a busy machine: not asserted)
    for check in ("check-devices", "check-media"):
        state = firefox.evaluate(f"document.getElementById('{check}').dataset.state")
        assert state == "ok", (check, state)
    firefox.evaluate("document.getElementById('enter').click()")
    firefox.wait_for("!document.getElementById('room').hidden", "the room", 30)

    # The page declared what it decodes when it joined (the server offers it no stream in
    # another codec): VP8 among them, retransmission and repair formats left out.
    join = next(frame for frame in sent if frame.get("type") == "join")
    assert "video/VP8" in join.get("codecs", []), join
    assert not {"video/rtx", "video/red", "video/ulpfec"} & set(join["codecs"]), join

    sides = [Side("chromium", agent), Side("firefox", firefox)]
    for side in sides:
        side.wait_receiving(
            "video and sound",
            lambda r: r["framesDecoded"] > 0 and r["width"] > 0 and r["audioPackets"] > 0,
            MEDIA_TIMEOUT_S,
        )
        side.assert_frames_rising()
        # Both publish VP8 first (the room's codec), and each receives VP8.
        published = side.evaluate(PUBLISHED_CODECS_JS)
        assert published and published[0] == "VP8", (side.name, published)
        assert set(side.received()["codecs"]) == {"video/VP8"}, side.name

    # Each viewer asks for the smallest layer, then the largest: the other's simulcast
    # switches, and frames keep being decoded.
    for viewer in sides:
        viewer.set_quality(mode="auto", max_layer=0)
        small = viewer.wait_receiving(
            "the smallest layer", lambda r: 0 < r["width"] <= SMALLEST_MAX_WIDTH, LAYER_TIMEOUT_S
        )
        viewer.assert_frames_rising()
        viewer.set_quality(mode="auto", max_layer=2)
        large = viewer.wait_receiving(
            "the largest layer", lambda r: r["width"] >= LARGEST_MIN_WIDTH, LAYER_TIMEOUT_S
        )
        viewer.assert_frames_rising()
        assert large["width"] > small["width"], (viewer.name, small, large)


def test_firefox_is_told_a_bad_link_is_the_links_fault_not_the_network(setup: Setup) -> None:
    firefox = setup.firefox
    firefox.goto("about:blank")  # from a call page, only the fragment would change
    firefox.goto(f"{setup.service.base_url}/call#token=not-a-join-token")
    heading = firefox.wait_for(
        "(() => { const h = document.getElementById('h-link-help');"
        " return !document.getElementById('link-help').hidden && h.textContent; })()",
        "the refused link's heading",
        30,
    )
    assert heading == "Ce lien de rendez-vous n'est pas valide.", heading
    assert firefox.evaluate("document.getElementById('precheck').hidden") is True
    media = firefox.evaluate("document.getElementById('check-media').textContent")
    assert "ne passent pas" not in media, media


def enter_firefox(setup: Setup, token: str) -> Side:
    firefox = setup.firefox
    firefox.goto("about:blank")  # from a call page, only the fragment would change
    firefox.goto(f"{setup.service.base_url}/call#token={token}")
    firefox.wait_for(
        "document.getElementById('precheck').dataset.done === 'true'", "the pre-call check", 45
    )
    firefox.evaluate("document.getElementById('enter').click()")
    firefox.wait_for("!document.getElementById('room').hidden", "the room", 30)
    return Side("firefox", firefox)


def test_firefox_hears_an_h264_publisher_it_cannot_decode_and_is_told_why(setup: Setup) -> None:
    """This Firefox has no H.264 decoder (Debian's, without OpenH264): a publisher that
    sends H.264 only (as a GStreamer client may) leaves it the sound and a sentence that
    names the format, not the link."""
    service = setup.service
    room = f"bk-h264-{uuid.uuid4().hex[:8]}"
    citizen = enter_firefox(
        setup, service.mint(room=room, role="guest", subject="citizen-2", name="Jean Dupont")
    )
    decodes = citizen.evaluate(
        "RTCRtpReceiver.getCapabilities('video').codecs.map((c) => c.mimeType)"
    )
    assert "video/H264" not in decodes, decodes  # else this test proves nothing

    loop = EventLoopThread(None)
    ws_url = service.base_url.replace("http://", "ws://", 1) + "/ws"
    agent = SignalingClient(
        ws_url, ice_addresses=(setup.link.host_address,), send_codecs=("video/H264",)
    )
    token = service.mint(room=room, role="host", subject="agent-2", name="Claire Martin")
    try:
        loop.run(agent.connect())
        loop.run(agent.join(token))
        loop.run(
            agent.publish({"mic": ToneAudioTrack(440.0), "camera": ColourVideoTrack((220, 30, 30))})
        )
        banner = setup.firefox.wait_for(
            "(() => { const b = document.getElementById('audio-banner');"
            " return !b.hidden && b.dataset.reason === 'codec-unsupported' && b.textContent; })()",
            "the banner naming the format",
            MEDIA_TIMEOUT_S,
        )
        assert banner.startswith("La vidéo de Claire Martin ne peut pas s'afficher"), banner
        assert "Connexion faible" not in banner, banner
        heard = citizen.wait_receiving("sound", lambda r: r["audioPackets"] > 0, MEDIA_TIMEOUT_S)
        time.sleep(1.5)
        assert citizen.received()["audioPackets"] > heard["audioPackets"]
        quality = citizen.evaluate("document.getElementById('quality').dataset.level")
        assert quality != "poor", quality
    finally:
        with contextlib.suppress(Exception):
            loop.run(agent.close())
        loop.close()
