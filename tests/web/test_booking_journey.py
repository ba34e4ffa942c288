"""A citizen books on the phone-sized page and gets the mail; the agent opens the call."""

from __future__ import annotations

import email
import re
import sqlite3
import time
from datetime import datetime
from email.message import Message
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, FilePayload, Page, ViewportSize, expect

from tests.support.server import RunningService
from tests.web.journeys import assert_media_keeps_flowing, book_first_video_slot, sign_in_agent

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE: ViewportSize = {"width": 360, "height": 640}
MAIL_TIMEOUT_S = 20.0
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
CALL_URL = re.compile(r".*/call#token=.+")


def wait_for_mail_to(service: RunningService, address: str) -> Message:
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while time.monotonic() < deadline:
        for path in service.outbox():
            message = email.message_from_bytes(path.read_bytes())
            if address in str(message.get("To", "")):
                return message
        time.sleep(0.2)
    raise AssertionError(f"no mail to {address} within {MAIL_TIMEOUT_S} s")


def assert_fits_the_phone(page: Page) -> None:
    """Nothing wider than the 360 px screen: no sideways scrolling."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width} px wide on a {PHONE['width']} px phone"


def bring_forward(service: RunningService, email_address: str, *, starts_in_s: int) -> datetime:
    """Move the citizen's booking to start soon (booking keeps a minimum notice); returns
    the new start in Paris time."""
    start = int(time.time()) + starts_in_s
    with sqlite3.connect(service.data_dir / "visioguichet.db") as db:
        moved = db.execute(
            "UPDATE bookings SET end_at = ? + (end_at - start_at), start_at = ? "
            "WHERE citizen_email = ?",
            (start, start, email_address),
        ).rowcount
    assert moved == 1
    return datetime.fromtimestamp(start, ZoneInfo("Europe/Paris"))


def phone_page(browser: Browser) -> Page:
    context = browser.new_context(
        viewport=PHONE, locale="fr-FR", timezone_id="Europe/Paris", has_touch=True
    )
    return context.new_page()


def test_citizen_books_on_a_phone_and_agent_meets_them_in_the_call(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    citizen = phone_page(browser)
    book_first_video_slot(citizen, service.base_url, "Jean Dupont", "jean.dupont@example.org")
    assert_fits_the_phone(citizen)
    citizen.screenshot(path=str(artifacts_dir / "phone-booking-summary.png"), full_page=True)
    citizen.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(citizen.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible(
        timeout=15_000
    )
    citizen.screenshot(path=str(artifacts_dir / "phone-booking-confirmed.png"), full_page=True)
    join_href = citizen.locator("#join-link").get_attribute("href")
    assert join_href and "/call#token=" in join_href

    mail = wait_for_mail_to(service, "jean.dupont@example.org")
    parts = [part for part in mail.walk() if part.get_content_maintype() == "text"]
    bodies = [part.get_payload(decode=True) for part in parts]
    assert any(
        isinstance(body, bytes) and "/call#token=" in body.decode("utf-8", "replace")
        for body in bodies
    )

    # The day comes: the call opens a margin ahead of the slot, not at booking time.
    manage_href = citizen.locator("#manage-link").get_attribute("href") or ""
    start = bring_forward(service, "jean.dupont@example.org", starts_in_s=5 * 60)

    agent_context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    agent = agent_context.new_page()
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={start.date().isoformat()}")
    row = agent.locator("#rows tr", has_text="Jean Dupont")
    expect(row).to_be_visible(timeout=15_000)
    row.get_by_role("button", name="Ouvrir l'appel").click()
    expect(agent).to_have_url(CALL_URL, timeout=15_000)
    agent.get_by_role("button", name="Entrer dans le rendez-vous").click()
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)

    # The link in hand opens from a quarter of an hour ahead of the slot it was made for;
    # the manage page always links to the appointment as it stands.
    citizen.goto(manage_href if manage_href.startswith("http") else service.base_url + manage_href)
    citizen.locator("#join-link").click()
    citizen.wait_for_selector("#precheck[data-done=true]", timeout=20_000)
    assert_fits_the_phone(citizen)
    citizen.screenshot(path=str(artifacts_dir / "phone-precheck.png"), full_page=True)
    citizen.get_by_role("button", name="Entrer dans le rendez-vous").click()
    admit = agent.get_by_role("button", name="Faire entrer Jean Dupont")
    expect(admit).to_be_visible(timeout=20_000)
    admit.click()

    for page in (agent, citizen):
        assert_media_keeps_flowing(page)
    assert_fits_the_phone(citizen)
    citizen.screenshot(path=str(artifacts_dir / "phone-call-room.png"))

    citizen.get_by_role("button", name="Messages").click()
    # The server reads the content, not the name: a fake PDF is refused with its reason.
    citizen.get_by_label("Envoyer un document").set_input_files(
        files=[FilePayload(name="faux.pdf", mimeType="application/pdf", buffer=b"MZ pas un pdf")]
    )
    expect(citizen.locator("#file-error")).to_have_text(
        "Seuls les documents PDF, PNG et JPEG sont acceptés.", timeout=15_000
    )
    citizen.get_by_label("Envoyer un document").set_input_files(
        files=[FilePayload(name="justificatif.png", mimeType="image/png", buffer=PNG_BYTES)]
    )
    agent.get_by_role("button", name="Messages").click()
    download_button = agent.get_by_role("button", name="Télécharger justificatif.png")
    expect(download_button).to_be_visible(timeout=15_000)
    with agent.expect_download() as download_info:
        download_button.click()
    downloaded = Path(download_info.value.path())
    expect(citizen.locator("#messages")).to_contain_text("Vous : ")
    assert downloaded.read_bytes() == PNG_BYTES
    citizen.screenshot(path=str(artifacts_dir / "phone-call-chat.png"))
    agent.get_by_role("button", name="Terminer pour tous").click()
    expect(citizen.get_by_role("status")).to_contain_text("terminé", timeout=20_000)
    agent.get_by_role("button", name="Terminé", exact=True).click()
    expect(agent.locator("#outcome-status")).to_have_text("Enregistré.", timeout=15_000)

    citizen.get_by_role("link", name="Donner votre avis sur ce rendez-vous").click()
    citizen.get_by_role("button", name="Envoyer mon avis").click()
    expect(citizen.locator("#score-error")).to_have_text("Choisissez une note de 1 à 5.")
    citizen.get_by_label("4").check()
    citizen.get_by_label("Un commentaire ? (facultatif)").fill("Très clair, merci.")
    citizen.get_by_role("button", name="Envoyer mon avis").click()
    expect(citizen.get_by_role("status")).to_have_text("Merci pour votre avis.", timeout=15_000)
