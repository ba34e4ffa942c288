"""A third person in the call, through the pages: the citizen names a companion when
booking (who gets a link of their own by mail), the agent invites an interpreter from
the agenda; the citizen and the interpreter wait in the lobby under their names and the
agent lets them in. (The companion's mailed link was made for the slot as booked, which
the test moves to now; the booking tests follow it through a move.)"""

from __future__ import annotations

import email
import re
import time
from email.message import Message

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService
from tests.web.journeys import book_first_video_slot, sign_in_agent
from tests.web.test_booking_journey import bring_forward

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(240)]

MAIL_TIMEOUT_S = 20.0
CITIZEN_EMAIL = "lucie.companion@example.org"
COMPANION_EMAIL = "paul.companion@example.org"
CALL_LINK = re.compile(r"https?://\S+/call#token=\S+")


def mails_to(service: RunningService, address: str) -> list[Message]:
    found = []
    for path in service.outbox():
        message = email.message_from_bytes(path.read_bytes())
        if address in str(message.get("To", "")):
            found.append(message)
    return found


def call_link_in_mail_to(service: RunningService, address: str) -> str:
    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while time.monotonic() < deadline:
        for message in mails_to(service, address):
            for part in message.walk():
                if part.get_content_type() != "text/plain":
                    continue
                payload = part.get_payload(decode=True)
                text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
                link = CALL_LINK.search(text)
                if link:
                    return link.group(0)
        time.sleep(0.2)
    raise AssertionError(f"no mail with a call link to {address} within {MAIL_TIMEOUT_S} s")


def enter_call(browser: Browser, url: str) -> Page:
    page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    page.goto(url)
    page.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=20_000)
    return page


def test_a_companion_and_an_invited_interpreter_join_through_the_lobby(
    browser: Browser, service: RunningService
) -> None:
    citizen = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    book_first_video_slot(citizen, service.base_url, "Lucie Bernard", CITIZEN_EMAIL)
    # back to the contact step to name a companion; a missing contact is said at its field
    citizen.get_by_role("button", name="Retour").click()
    citizen.get_by_label("Une autre personne participera avec moi").check()
    citizen.get_by_label("Nom de la personne qui vous accompagne").fill("Paul Martin")
    citizen.get_by_role("button", name="Continuer").click()
    expect(citizen.locator("#companion-email-error")).to_contain_text("adresse e-mail")
    citizen.get_by_label("Son e-mail").fill(COMPANION_EMAIL)
    citizen.get_by_role("button", name="Continuer").click()
    expect(citizen.locator("#summary")).to_contain_text("Paul Martin")
    citizen.get_by_role("button", name="Confirmer le rendez-vous").click()
    expect(citizen.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible(
        timeout=15_000
    )
    companion_link = call_link_in_mail_to(service, COMPANION_EMAIL)
    assert companion_link != citizen.locator("#join-link").get_attribute("href")
    start = bring_forward(service, CITIZEN_EMAIL, starts_in_s=5 * 60)

    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={start.date().isoformat()}")
    row = agent.locator("#rows tr", has_text="Lucie Bernard")
    expect(row).to_be_visible(timeout=15_000)
    row.get_by_role("button", name=re.compile("^Inviter une personne")).click()
    expect(agent.locator(".invite-list")).to_have_text(
        "Déjà invités : Paul Martin (accompagne l'usager, nommé(e) à la réservation)"
    )
    agent.get_by_label("Son nom (affiché aux autres)").fill("Léa Roux")
    agent.get_by_label("Qualité").select_option("interpreter")
    agent.get_by_role("button", name="Créer son lien").click()
    interpreter_link = agent.get_by_label("Lien de Léa Roux").input_value(timeout=15_000)
    assert "/call#token=" in interpreter_link
    agent.get_by_role("button", name="Fermer").click()

    row.get_by_role("button", name="Ouvrir l'appel").click()
    agent.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=20_000)
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)
    # during the call too: a colleague's link, from the call's own controls
    agent.get_by_role("button", name="Inviter une personne").click()
    agent.get_by_label("Son nom (affiché aux autres)").fill("Marc Colin")
    agent.get_by_label("Qualité").select_option("colleague")
    agent.get_by_role("button", name="Créer son lien").click()
    assert "/call#token=" in agent.get_by_label("Lien de Marc Colin").input_value(timeout=15_000)
    agent.get_by_role("button", name="Inviter une personne").click()

    manage_href = citizen.locator("#manage-link").get_attribute("href") or ""
    citizen.goto(manage_href if manage_href.startswith("http") else service.base_url + manage_href)
    citizen.locator("#join-link").click()
    citizen.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=20_000)
    interpreter = enter_call(browser, interpreter_link)
    for name in ("Lucie Bernard", "Léa Roux"):
        admit = agent.get_by_role("button", name=f"Faire entrer {name}")
        expect(admit).to_be_visible(timeout=20_000)
        admit.click()
    # the agent's page: one picture large, the other as a tile it may enlarge
    expect(agent.locator("#tiles li")).to_have_count(1, timeout=20_000)
    for page in (citizen, interpreter):
        expect(page.locator("#room")).to_be_visible(timeout=20_000)
        expect(page.locator("#tiles li")).to_have_count(1, timeout=20_000)
    # the call ends: the survey is asked of the citizen, not of the interpreter
    agent.get_by_role("button", name="Terminer pour tous").click()
    expect(citizen.locator("#survey-link")).to_be_visible(timeout=20_000)
    expect(interpreter.locator("#status")).to_contain_text("terminé", timeout=20_000)
    expect(interpreter.locator("#survey-link")).to_be_hidden()
    for page in (citizen, agent, interpreter):
        page.context.close()
