"""Each way a call can fail is said on the call page in its own words, with a way on:
media that cannot get through is retried a few times with growing pauses (not every
few seconds for ever), then said with a retry button, audio only and the help line; a
refused screen share is said, not swallowed; a service that stays unreachable is said
after the page's reconnections, with a retry button and the help line; a link to an
appointment already over says so (not the network), with the booking page and the help
line."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bench.chromium import CHROMIUM_FLAGS, CHROMIUM_PATH
from tests.support.server import RunningService, run_service
from tests.web.journeys import sign_in_agent
from tests.web.test_no_show_dashboard import book_through_api

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HELP_PHONE = "01 23 45 67 89"
# A network no browser candidate of this machine is in: the server takes none, every
# connection of the call fails (the server says no-usable-candidate), as on a network
# that blocks media.
NOWHERE = "10.99.99.0/30"
MEDIA_FAILED = "L'image et le son ne passent pas"
SERVICE_LOST = "Le service ne répond plus"
PANEL_TIMEOUT_MS = 90_000  # three pauses (1 + 4 + 10 s) and four failures, on a busy machine
RESTARTS_BEFORE_SAYING_IT = 3


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(
        tmp_path_factory.mktemp("blocked"),
        extra_args=["--help-phone", HELP_PHONE],
        allow_remote_network=NOWHERE,
    ) as running:
        yield running


def enter(browser: Browser, service: RunningService, token: str, button: str) -> Page:
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(f"{service.base_url}/call#token={token}")
    expect(page.locator("#precheck")).to_have_attribute("data-done", "true", timeout=30_000)
    page.get_by_role("button", name=button).click()
    expect(page.locator("#room")).to_be_visible(timeout=30_000)
    return page


def restarts(page: Page) -> int:
    return int(page.evaluate("window.visioguichet.iceRestarts || 0"))


def assert_ways_on(page: Page, heading: str) -> None:
    title = page.get_by_role("heading", name=heading)
    expect(title).to_be_visible(timeout=PANEL_TIMEOUT_MS)
    expect(title).to_be_focused()
    expect(page.get_by_role("button", name="Réessayer")).to_be_visible()
    phone = page.get_by_role("link", name=HELP_PHONE)
    expect(phone).to_be_visible(timeout=10_000)
    assert phone.get_attribute("href") == "tel:0123456789"


def test_media_that_never_gets_through_is_retried_three_times_then_said_with_the_ways_on(
    browser: Browser, blocked: RunningService, artifacts_dir: Path
) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    token = blocked.mint(room=room, role="guest", subject="c-1", name="Paul Martin")
    page = enter(browser, blocked, token, "Entrer dans le rendez-vous")

    assert_ways_on(page, MEDIA_FAILED)
    expect(page.get_by_text("le réseau que vous utilisez les bloque peut-être")).to_be_visible()
    audio_only = page.get_by_role("button", name="Continuer en audio seulement")
    expect(audio_only).to_be_visible()
    page.screenshot(path=str(artifacts_dir / "media-cannot-get-through.png"))
    assert restarts(page) == RESTARTS_BEFORE_SAYING_IT
    # Said, the page stops restarting: nothing more after twice the longest pause.
    page.wait_for_timeout(20_000)
    assert restarts(page) == RESTARTS_BEFORE_SAYING_IT
    expect(page.get_by_role("heading", name=MEDIA_FAILED)).to_be_visible()

    # "Réessayer" starts again at once, with three new attempts before saying it again.
    page.get_by_role("button", name="Réessayer").click()
    expect(page.get_by_role("heading", name=MEDIA_FAILED)).to_be_hidden()
    assert restarts(page) == RESTARTS_BEFORE_SAYING_IT + 1
    assert_ways_on(page, MEDIA_FAILED)
    assert restarts(page) == 2 * RESTARTS_BEFORE_SAYING_IT + 1

    # Audio only: the camera goes, no video is asked for, and the call starts over.
    page.get_by_role("button", name="Continuer en audio seulement").click()
    expect(page.get_by_role("heading", name=MEDIA_FAILED)).to_be_hidden()
    assert page.evaluate("window.visioguichet.local.getVideoTracks().length") == 0
    expect(page.get_by_role("button", name="Audio seul")).to_have_attribute("aria-pressed", "true")
    assert restarts(page) == 2 * RESTARTS_BEFORE_SAYING_IT + 2
    # Still failing: said again, without offering audio only a second time.
    assert_ways_on(page, MEDIA_FAILED)
    expect(page.get_by_role("button", name="Continuer en audio seulement")).to_be_hidden()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(
        tmp_path_factory.mktemp("service"), extra_args=["--help-phone", HELP_PHONE]
    ) as running:
        yield running


def test_a_refused_screen_share_is_said_with_the_way_on(
    browser: Browser, service: RunningService
) -> None:
    # A second Chromium that refuses every capture (as when the person or the system
    # says no): camera and microphone, then the screen.
    flags = [f for f in CHROMIUM_FLAGS if f != "--use-fake-ui-for-media-stream"]
    refusing = browser.browser_type.launch(
        executable_path=CHROMIUM_PATH,
        headless=True,
        args=[*flags, "--use-fake-ui-for-media-stream=deny"],
    )
    try:
        room = f"room-{uuid.uuid4().hex[:8]}"
        token = service.mint(room=room, role="host", subject="a-1", name="Claire Martin")
        page = enter(refusing, service, token, "Continuer sans caméra")
        expect(page.get_by_role("button", name="Terminer pour tous")).to_be_visible()
        page.get_by_role("button", name="Partager l'écran").click()
        alert = page.get_by_role("alert").filter(has_text="Le partage d'écran a été refusé")
        expect(alert).to_be_visible(timeout=15_000)
        expect(alert).to_contain_text("« Messages »")
        expect(page.get_by_role("button", name="Partager l'écran")).to_have_attribute(
            "aria-pressed", "false"
        )
    finally:
        refusing.close()


def test_a_service_that_stays_unreachable_is_said_with_the_ways_on(
    browser: Browser, tmp_path: Path
) -> None:
    with run_service(tmp_path / "service", extra_args=["--help-phone", HELP_PHONE]) as lost:
        room = f"room-{uuid.uuid4().hex[:8]}"
        token = lost.mint(room=room, role="guest", subject="c-2", name="Lucie Bernard")
        page = enter(browser, lost, token, "Entrer dans le rendez-vous")
        expect(page.locator("#status")).to_have_text(
            "En attente de l'autre personne…", timeout=30_000
        )
        # The help line is read before the service goes (the page asked for it earlier).
        lost.process.terminate()
        lost.process.wait(timeout=10)
    assert_ways_on(page, SERVICE_LOST)
    expect(page.get_by_text("Vérifiez votre connexion internet")).to_be_visible()
    expect(page.get_by_role("button", name="Continuer en audio seulement")).to_be_hidden()
    expect(page.locator("#status")).not_to_contain_text("Nouvelle tentative")


MARK_DONE_JS = """async (id) => {
  const me = await (await fetch("/api/auth/me")).json();
  const reply = await fetch(`/api/agent/bookings/${encodeURIComponent(id)}/outcome`, {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me.csrf_token},
    body: JSON.stringify({status: "done"}),
  });
  return reply.status;
}"""


def test_a_link_to_an_appointment_already_over_says_so_with_the_way_out(
    browser: Browser, service: RunningService
) -> None:
    booking = book_through_api(service, "Rose Girard")
    agent = browser.new_context(locale="fr-FR").new_page()
    sign_in_agent(agent, service.base_url)
    assert agent.evaluate(MARK_DONE_JS, booking["id"]) in (200, 204)
    # A token valid now for that booking's room (the mailed one opens 15 min before).
    token = service.mint(room=booking["id"], role="guest", subject="c-3", name="Rose Girard")
    page = browser.new_context(locale="fr-FR").new_page()
    page.goto(f"{service.base_url}/call#token={token}")
    heading = page.get_by_role("heading", name="Le rendez-vous est terminé.")
    expect(heading).to_be_visible(timeout=30_000)
    expect(heading).to_be_focused()
    expect(page.get_by_role("link", name="Prendre un nouveau rendez-vous")).to_be_visible()
    expect(page.get_by_role("link", name=HELP_PHONE)).to_be_visible()
    expect(page.get_by_text("ne passent pas", exact=False)).to_be_hidden()
    expect(page.locator("#precheck")).to_be_hidden()
