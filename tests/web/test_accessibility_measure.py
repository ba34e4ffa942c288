"""The accessibility statement shows what the axe run measures now: the committed figures
(``web/static/accessibility-measure.json``) match a fresh run over every page, and the
statement page shows them."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import Browser

from tests.support.server import RunningService
from tests.web.accessibility_measure import MEASURE_PATH, measure

pytestmark = [pytest.mark.slow, pytest.mark.browser]

COMPARED = ("tool", "pages", "violations", "violated_rules")


def test_the_committed_measure_is_what_axe_finds_now(
    browser: Browser, service: RunningService
) -> None:
    committed = json.loads(MEASURE_PATH.read_text(encoding="utf-8"))
    fresh = measure(browser, service.base_url)
    assert {k: fresh[k] for k in COMPARED} == {k: committed[k] for k in COMPARED}, (
        "the accessibility statement's figures are stale: run "
        "`.venv/bin/python -m tests.web.accessibility_measure` and commit the file"
    )


def test_the_statement_shows_the_measure(service: RunningService) -> None:
    committed = json.loads(MEASURE_PATH.read_text(encoding="utf-8"))
    with urllib.request.urlopen(f"{service.base_url}/accessibilite", timeout=10) as answer:
        page = answer.read().decode("utf-8")
    assert f"<dd>{committed['tool']}, règles {committed['rules']}</dd>" in page
    assert f"<dd>{len(committed['pages'])} : /, /book," in page
    serious = committed["violations"]["critical"] + committed["violations"]["serious"]
    assert f"<dt>Défauts graves ou critiques</dt><dd>{serious}</dd>" in page
    assert "<strong>non conforme</strong>" in page
