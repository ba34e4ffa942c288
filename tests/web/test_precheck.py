"""The pre-call check: preview, level meter, device choice, network and media tests, and the
way out (audio only, the help line) when video cannot work."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService, run_service
from tests.web.accessibility import blocking_violations
from visioguichet.join_token import Role

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HELP_PHONE = "01 23 45 67 89"
CHECKS_TIMEOUT_MS = 20_000
# Stands in for a phone or PC without a camera: asking for video fails as it does there.
NO_CAMERA_JS = """
(() => {
  const devices = navigator.mediaDevices;
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => constraints && constraints.video
    ? Promise.reject(new DOMException("Requested device not found", "NotFoundError"))
    : original(constraints);
})();
"""

# A network through which only a relay would carry media, and none is offered: the
# browser's ICE agent gathers nothing it may use, as behind a firewall that drops UDP.
RELAY_ONLY_JS = """
(() => {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config) {
    return new Native({ ...(config || {}), iceTransportPolicy: "relay" });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The service with a help line configured, as a deployment would have."""
    with run_service(
        tmp_path_factory.mktemp("service"), extra_args=("--help-phone", HELP_PHONE)
    ) as running:
        yield running


def open_precheck(page: Page, service: RunningService, *, role: Role, lobby: bool) -> None:
    room = f"bk-precheck-{uuid.uuid4().hex[:8]}"
    token = service.mint(room=room, role=role, subject=f"{role}-1", name="Awa Diallo", lobby=lobby)
    page.goto(f"{service.base_url}/call#token={token}")
    page.wait_for_selector("#precheck[data-done=true]", timeout=CHECKS_TIMEOUT_MS)


def test_precheck_previews_meters_measures_and_switches_microphone(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    page = browser.new_context(locale="fr-FR").new_page()
    open_precheck(page, service, role="guest", lobby=True)

    page.wait_for_function(
        "() => document.getElementById('preview').videoWidth > 0", timeout=CHECKS_TIMEOUT_MS
    )
    page.wait_for_function(
        "() => document.getElementById('level').value > 0", timeout=CHECKS_TIMEOUT_MS
    )
    expect(page.locator("#check-devices")).to_have_text("Caméra et micro : prêts.")
    network = page.locator("#network")
    expect(network).to_have_attribute("data-state", "ok")
    expect(network).to_contain_text("Réseau : bon (")
    expect(network).to_contain_text("ms en temps réel")
    # The media probe went through the SFU: connected, and its receiver reports came back.
    expect(page.locator("#check-media")).to_contain_text("Image et son : reçus par le serveur (")
    media = page.evaluate("window.visioguichet.mediaTest")
    assert media["connected"] and media["reports"], media
    assert media["framesEncoded"] >= 5 and media["rttMs"] is not None, media
    expect(page.locator("#fallback")).to_be_hidden()
    expect(page.get_by_role("button", name="Entrer dans le rendez-vous")).to_be_enabled()
    phone = page.get_by_role("link", name=HELP_PHONE)
    expect(phone).to_have_attribute("href", "tel:0123456789")

    # Device choice: every microphone Chromium offers is listed; picking another one
    # reopens the microphone on that device and runs the checks again.
    mics = page.get_by_label("Micro", exact=True).locator("option")
    assert mics.count() >= 2, "the fake device set offers several microphones"
    second = mics.nth(1).get_attribute("value")
    page.get_by_label("Micro", exact=True).select_option(second)
    page.wait_for_function(
        "(id) => window.visioguichet.local.getAudioTracks()[0]?.getSettings().deviceId === id",
        arg=second,
        timeout=CHECKS_TIMEOUT_MS,
    )
    page.wait_for_selector("#precheck[data-done=true]", timeout=CHECKS_TIMEOUT_MS)
    expect(page.locator("#check-media")).to_have_attribute("data-state", "ok")
    expect(page.get_by_label("Caméra", exact=True).locator("option")).to_have_count(1)

    assert blocking_violations(page) == []
    page.screenshot(path=str(artifacts_dir / "precheck.png"), full_page=True)
    page.context.close()


def test_without_a_camera_the_page_says_why_and_offers_audio_only_and_the_phone(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    context.add_init_script(NO_CAMERA_JS)
    page = context.new_page()
    open_precheck(page, service, role="host", lobby=False)

    expect(page.locator("#check-devices")).to_have_text("Caméra : indisponible. Micro : prêt.")
    fallback = page.get_by_role("alert").filter(has_text="Votre caméra n'est pas disponible.")
    expect(fallback).to_be_visible()
    expect(fallback).to_contain_text("continuer en audio seulement, ou appeler le service")
    expect(page.locator("#check-media")).to_contain_text("Son : reçu par le serveur (")
    expect(page.get_by_role("button", name="Entrer dans le rendez-vous")).to_be_disabled()
    expect(page.get_by_role("link", name=HELP_PHONE)).to_be_visible()
    assert blocking_violations(page) == []

    page.get_by_role("button", name="Continuer sans caméra").click()
    expect(page.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)
    # Only the microphone is published: the SFU answered a publish with one audio source.
    page.wait_for_function(
        "() => window.visioguichet.publishPc?.connectionState === 'connected'", timeout=20_000
    )
    assert page.evaluate("Object.values(window.visioguichet.sources)") == ["mic"]
    expect(page.get_by_role("button", name="Couper la caméra")).to_be_hidden()
    context.close()


def test_when_media_cannot_reach_the_server_the_page_points_to_the_phone(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    context.add_init_script(RELAY_ONLY_JS)
    page = context.new_page()
    open_precheck(page, service, role="guest", lobby=True)
    expect(page.locator("#network")).to_have_attribute("data-state", "ok")
    expect(page.locator("#check-media")).to_have_text(
        "Image et son : ne passent pas jusqu'au serveur depuis ce réseau."
    )
    expect(page.locator("#check-media")).to_have_attribute("data-state", "bad")
    fallback = page.get_by_role("alert").filter(has_text="ne passent pas depuis ce réseau")
    expect(fallback).to_contain_text("appelez le service")
    expect(page.get_by_role("link", name=HELP_PHONE)).to_be_visible()
    assert page.evaluate("window.visioguichet.mediaTest.connected") is False
    context.close()


def test_language_choice_is_kept_from_page_to_page(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{service.base_url}/")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "A video appointment with a public service"
    )
    open_precheck(page, service, role="guest", lobby=True)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Before you start")).to_be_visible()
    expect(page.locator("#check-devices")).to_have_text("Camera and microphone: ready.")
    page.get_by_role("button", name="Passer en français").click()
    expect(page.locator("#check-devices")).to_have_text("Caméra et micro : prêts.")
    expect(page.locator("#network")).to_contain_text("Réseau : bon (")
    page.goto(f"{service.base_url}/book")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    context.close()


def test_citizen_waits_in_the_waiting_room_and_can_leave_it(
    browser: Browser, service: RunningService
) -> None:
    page = browser.new_context(locale="fr-FR").new_page()
    open_precheck(page, service, role="guest", lobby=True)
    page.get_by_role("button", name="Entrer dans le rendez-vous").click()
    heading = page.get_by_role("heading", name="Salle d'attente")
    expect(heading).to_be_focused(timeout=20_000)
    expect(page.locator("#status")).to_contain_text("restez sur cette page")
    expect(page.locator("#precheck")).to_be_hidden()
    assert blocking_violations(page) == []
    page.get_by_role("button", name="Quitter la salle d'attente").click()
    expect(page.locator("#status")).to_have_text("Vous avez quitté le rendez-vous.")
    expect(heading).to_be_hidden()
    page.wait_for_function(
        "() => window.visioguichet.signaling.socket.readyState === WebSocket.CLOSED",
        timeout=10_000,
    )
    page.context.close()
