"""The booking flow works with the keyboard alone, and field errors show next to fields."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations

pytestmark = [pytest.mark.slow, pytest.mark.browser]

MAX_TABS = 80
# Every pointer or mouse event the page sees, in the capture phase; a click made by the
# keyboard has detail 0, one made with a mouse counts its presses.
RECORD_POINTER_JS = """
window.pointerEvents = [];
for (const type of ["pointerdown", "pointerup", "pointermove", "mousedown", "mouseup",
                    "mousemove", "touchstart", "wheel", "click"]) {
  window.addEventListener(type, (event) => {
    if (type !== "click" || event.detail > 0) window.pointerEvents.push(type);
  }, true);
}
"""


def tab_to(page: Page, selector: str) -> None:
    """Press Tab (never the mouse) until the focused element matches the selector."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} not reached within {MAX_TABS} Tab presses")


def test_booking_flow_by_keyboard_only_with_field_errors_next_to_fields(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    context.add_init_script(RECORD_POINTER_JS)
    page = context.new_page()
    page.goto(f"{service.base_url}/book")
    expect(page.locator("section:not([hidden]) .choices button").first).to_be_visible(
        timeout=15_000
    )
    if page.locator("#step-service").is_visible():
        tab_to(page, "#services button")
        page.keyboard.press("Enter")
    expect(page.locator("#motifs button").first).to_be_visible(timeout=15_000)
    tab_to(page, "#motifs button")
    page.keyboard.press("Enter")
    expect(page.locator("#slots button").first).to_be_visible(timeout=15_000)
    tab_to(page, "#slots button")
    page.keyboard.press("Enter")

    expect(page.locator("#h-contact")).to_be_focused()
    tab_to(page, "#email")
    page.keyboard.type("pas-une-adresse")
    tab_to(page, "#contact-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#name-error")).to_have_text("Indiquez votre nom.")
    expect(page.locator("#email-error")).to_have_text("Cette adresse e-mail n'est pas valide.")
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#name")).to_be_focused()
    assert blocking_violations(page) == []

    page.keyboard.type("Awa Diallo")
    tab_to(page, "#email")
    page.keyboard.press("Control+A")
    page.keyboard.type("awa.diallo@example.org")
    tab_to(page, "#contact-form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page.locator("#h-summary")).to_be_focused()
    expect(page.locator("#summary")).to_contain_text("Awa Diallo")
    tab_to(page, "#confirm")
    page.keyboard.press("Enter")
    expect(page.locator("#h-done")).to_be_focused(timeout=15_000)
    expect(page.locator("#h-done")).to_have_text("Votre rendez-vous est confirmé")
    assert page.evaluate("window.pointerEvents") == []
    context.close()
