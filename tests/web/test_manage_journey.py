"""A citizen opens the manage link on a phone, moves the appointment, then cancels it
after confirming; the service records both."""

from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import sign_in_agent
from tests.web.test_no_show_dashboard import book_through_api

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_citizen_moves_then_cancels_the_appointment_from_the_manage_link(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    booking = book_through_api(service, "Nadia Benali")
    manage = urllib.parse.urlsplit(booking["manage_url"])
    token = urllib.parse.parse_qs(manage.fragment)["token"][0]
    context = browser.new_context(
        viewport={"width": 360, "height": 640}, locale="fr-FR", timezone_id="Europe/Paris"
    )
    page = context.new_page()
    page.goto(f"{service.base_url}{manage.path}#{manage.fragment}")
    summary = page.locator("#summary")
    expect(summary).to_contain_text("Prévu", timeout=15_000)

    page.get_by_role("button", name="Changer d'horaire").click()
    expect(page.locator("#h-slots")).to_be_focused()
    # As on /book: a row of days, then that day's times; the page stays phone-sized.
    days = page.locator("#slot-days button")
    expect(days.first).to_have_attribute("aria-pressed", "true")
    days.nth(1).click()
    expect(days.nth(1)).to_have_attribute("aria-pressed", "true")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 4000, height
    target = page.locator("#slot-times button").nth(1)
    new_when = target.get_attribute("aria-label") or ""
    target.click()
    # One tap does not move it: the new time is said, to confirm or to change.
    expect(page.locator("#confirm-move-text")).to_be_focused()
    expect(page.locator("#confirm-move-text")).to_have_text(
        f"Déplacer le rendez-vous au {new_when} ?"
    )
    assert service.get_json(f"/api/manage/{token}")["start"] == booking["start"]
    page.get_by_role("button", name="Choisir une autre heure").click()
    expect(page.locator("#confirm-move")).to_be_hidden()
    target.click()
    page.get_by_role("button", name="Oui, déplacer").click()
    expect(page.locator("#status")).to_have_text("Le rendez-vous est déplacé.", timeout=15_000)
    expect(summary).to_contain_text(new_when)
    moved = service.get_json(f"/api/manage/{token}")
    assert moved["start"] != booking["start"] and moved["status"] == "booked"

    page.get_by_role("button", name="Annuler le rendez-vous").click()
    expect(page.locator("#confirm-text")).to_be_focused()
    assert blocking_violations(page) == []
    page.screenshot(path=str(artifacts_dir / "phone-manage-confirm.png"), full_page=True)
    page.get_by_role("button", name="Non, le garder").click()
    expect(page.get_by_role("button", name="Annuler le rendez-vous")).to_be_focused()
    assert service.get_json(f"/api/manage/{token}")["status"] == "booked"

    page.get_by_role("button", name="Annuler le rendez-vous").click()
    page.get_by_role("button", name="Oui, annuler").click()
    expect(page.locator("#status")).to_have_text("Le rendez-vous est annulé.", timeout=15_000)
    expect(summary).to_contain_text("Annulé")
    expect(page.get_by_role("button", name="Annuler le rendez-vous")).to_be_hidden()
    expect(page.locator("#join-link")).to_be_hidden()
    assert service.get_json(f"/api/manage/{token}")["status"] == "cancelled"
    context.close()


def test_a_finished_appointment_offers_neither_moving_nor_cancelling(
    browser: Browser, service: RunningService
) -> None:
    booking = book_through_api(service, "Hugo Lambert")
    manage = urllib.parse.urlsplit(booking["manage_url"])
    page = browser.new_context(
        viewport={"width": 360, "height": 640}, locale="fr-FR", timezone_id="Europe/Paris"
    ).new_page()
    sign_in_agent(page, service.base_url)
    page.goto(f"{service.base_url}/agent?date={booking['start'][:10]}")
    page.get_by_role("button", name=re.compile("^Terminé — Hugo Lambert")).click()
    expect(page.locator("#status")).to_have_text("Enregistré.", timeout=15_000)

    page.goto(f"{service.base_url}{manage.path}#{manage.fragment}")
    expect(page.locator("#summary")).to_contain_text("Terminé", timeout=15_000)
    expect(page.get_by_role("button", name="Changer d'horaire")).to_be_hidden()
    expect(page.get_by_role("button", name="Annuler le rendez-vous")).to_be_hidden()
    expect(page.locator("#join-link")).to_be_hidden()
    expect(page.get_by_text("Ce rendez-vous est passé")).to_be_visible()
    assert (
        page.get_by_role("link", name="Prendre un nouveau rendez-vous").get_attribute("href")
        == "/book"
    )
