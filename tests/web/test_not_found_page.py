"""A mistyped address shows a page a person can read, in their language, with a way home."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_mistyped_address_shows_a_readable_page_with_a_way_home(
    browser: Browser, service: RunningService
) -> None:
    page = browser.new_context(locale="fr-FR").new_page()
    response = page.goto(f"{service.base_url}/rendez-vous")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page introuvable", level=1)).to_be_visible()
    expect(page.get_by_text("404: Not Found")).to_have_count(0)
    assert blocking_violations(page) == []
    page.get_by_role("button", name="Switch to English").click()
    expect(page.get_by_role("heading", name="Page not found", level=1)).to_be_visible()
    page.get_by_role("link", name="Home").click()
    expect(page).to_have_url(f"{service.base_url}/")
