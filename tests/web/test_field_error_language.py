"""A field the server refuses is explained in the page's language: the English booking
page translates the server's error code instead of showing its French sentence."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService
from tests.web.journeys import reach_motifs

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "Give only a name (no address, link or markup)."),
        ("fr", "Indiquez seulement un nom (pas d’adresse, de lien ni de balise)."),
    ],
)
def test_a_refused_name_is_explained_in_the_language_of_the_page(
    browser: Browser, service: RunningService, lang: str, expected: str
) -> None:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    try:
        page = context.new_page()
        page.goto(f"{service.base_url}/book?lang={lang}")
        motif = page.locator("#motifs button").first
        reach_motifs(page, motif)
        motif.click()
        slot = page.locator("#slots button").first
        expect(slot).to_be_visible(timeout=15_000)
        slot.click()
        # The page lets a link through as a name; the server does not.
        page.locator("#name").fill("www.example.org")
        page.locator("#email").fill("jeanne@example.org")
        page.locator("#contact-form button[type=submit]").click()
        page.locator("#confirm").click()
        expect(page.locator("#name-error")).to_have_text(expected, timeout=15_000)
    finally:
        context.close()
