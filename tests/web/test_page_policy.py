"""Every page works under the served Content-Security-Policy: Chromium reports no
violation while the page loads and runs (signed-in consoles included), the call page
can open the signalling socket, and markup injected into a page cannot run script."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

import web
from tests.support.server import RunningService

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SIGNED_IN = {
    "/admin": ("admin@demo.visioguichet.fr", "demo-admin-2026"),
    "/agent": ("agent@demo.visioguichet.fr", "demo-agent-2026"),
    "/partner": ("accueil@demo.visioguichet.fr", "demo-partner-2026"),
}


class PolicyWatch:
    """The console's CSP reports, across navigations of one page."""

    def __init__(self, page: Page) -> None:
        self.reports: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            self.reports.append(message.text)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    yield context.new_page()
    context.close()


def sign_in(page: Page, base_url: str, path: str) -> None:
    email, password = SIGNED_IN[path]
    page.goto(f"{base_url}/agent/login?next={path}")
    page.get_by_label("Adresse e-mail").fill(email)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{base_url}{path}", timeout=15_000)


@pytest.mark.parametrize("path", sorted(web.PAGES))
def test_page_runs_without_a_policy_violation(
    page: Page, service: RunningService, path: str
) -> None:
    watch = PolicyWatch(page)
    if path in SIGNED_IN:
        sign_in(page, service.base_url, path)
    else:
        page.goto(service.base_url + path)
    page.wait_for_load_state("networkidle")
    assert watch.reports == []


def test_the_call_page_opens_the_signalling_socket(page: Page, service: RunningService) -> None:
    watch = PolicyWatch(page)
    page.goto(service.base_url + "/call")
    outcome = page.evaluate(
        """() => new Promise((resolve) => {
            const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
            const socket = new WebSocket(url);
            socket.onopen = () => { socket.close(); resolve("open"); };
            socket.onerror = () => resolve("error");
            setTimeout(() => resolve("timeout"), 5000);
        })"""
    )
    assert outcome == "open" and watch.reports == []


def test_injected_markup_cannot_run_script(page: Page, service: RunningService) -> None:
    watch = PolicyWatch(page)
    page.goto(service.base_url + "/book")
    page.evaluate(
        """() => document.body.insertAdjacentHTML(
            "beforeend", '<img src="/no-such-image" onerror="window.injected = 1">')"""
    )
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in report for report in watch.reports), watch.reports
