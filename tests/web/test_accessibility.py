"""Every page, as first shown, has no serious or critical axe-core violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

import web
from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_every_page_has_no_serious_or_critical_axe_violation(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    found: dict[str, object] = {}
    for path in web.PAGES:
        url = f"{service.base_url}{path}"
        if path == "/call":
            url += "#token=not-a-real-token"
        page.goto(url)
        page.wait_for_load_state("networkidle")
        violations = blocking_violations(page)
        if violations:
            found[path] = violations
    context.close()
    assert not found, found
