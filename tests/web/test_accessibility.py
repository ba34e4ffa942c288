"""Every page, as first shown and in use (signed in, with a real booking, the pre-call
check done), in French and in English, has no serious or critical axe-core violation."""

from __future__ import annotations

import urllib.parse

import pytest
from playwright.sync_api import Browser, Page, expect

import web
from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD
from tests.web.test_no_show_dashboard import book_through_api

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STAFF = {
    "/agent": (DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD),
    "/partner": ("accueil@demo.visioguichet.fr", "demo-partner-2026"),
    "/admin": ("admin@demo.visioguichet.fr", "demo-admin-2026"),
}


def check(page: Page, label: str, found: dict[str, object]) -> None:
    violations = blocking_violations(page)
    if violations:
        found[label] = violations


def test_every_page_as_first_shown_has_no_serious_or_critical_axe_violation(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    found: dict[str, object] = {}
    for path in web.PAGES:
        page.goto(f"{service.base_url}{path}")
        page.wait_for_load_state("networkidle")
        check(page, path, found)
    context.close()
    assert not found, found


def test_every_page_in_use_in_french_and_english_has_no_serious_or_critical_violation(
    browser: Browser, service: RunningService
) -> None:
    booking = book_through_api(service, "Inès Martin")
    manage = urllib.parse.urlsplit(booking["manage_url"])
    join = urllib.parse.urlsplit(booking["join_url"])
    join_token = urllib.parse.parse_qs(join.fragment)["token"][0]
    citizen_pages = {
        "/manage": f"{manage.path}#{manage.fragment}",
        "/call (pre-call check)": f"{join.path}#{join.fragment}",
        "/survey": f"/survey#booking={booking['id']}&token={join_token}",
    }
    found: dict[str, object] = {}
    for lang in ("fr", "en"):
        context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
        page = context.new_page()
        page.goto(f"{service.base_url}/?lang={lang}")
        page.evaluate("(lang) => localStorage.setItem('lang', lang)", lang)
        for label, path in citizen_pages.items():
            page.goto(service.base_url + path)
            expect(page.locator("html")).to_have_attribute("lang", lang)
            if label.startswith("/call"):
                page.wait_for_selector("#precheck[data-done=true]", timeout=20_000)
            else:
                page.wait_for_load_state("networkidle")
            check(page, f"{label} [{lang}]", found)
        for path, (email, password) in STAFF.items():
            page.context.clear_cookies()
            page.goto(f"{service.base_url}/agent/login?next={urllib.parse.quote(path)}")
            page.locator("#email").fill(email)
            page.locator("#password").fill(password)
            page.locator("form button[type=submit]").click()
            expect(page).to_have_url(f"{service.base_url}{path}", timeout=15_000)
            page.wait_for_load_state("networkidle")
            expect(page).to_have_url(f"{service.base_url}{path}")  # still signed in
            check(page, f"{path} signed in [{lang}]", found)
        context.close()
    assert not found, found
