"""A partner point books for a consenting citizen, then starts an immediate call an agent takes."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import assert_media_keeps_flowing, sign_in_agent

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CALL_URL = re.compile(r".*/call#token=.+")


def sign_in_partner(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/partner")
    expect(page).to_have_url(re.compile(r".*/agent/login\?next=%2Fpartner"))
    page.get_by_label("Adresse e-mail").fill("accueil@demo.visioguichet.fr")
    page.get_by_label("Mot de passe").fill("demo-partner-2026")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Point partenaire")).to_be_visible(timeout=15_000)


def test_partner_books_for_a_citizen_then_starts_an_immediate_call_an_agent_takes(
    browser: Browser, service: RunningService
) -> None:
    partner = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_partner(partner, service.base_url)
    partner.get_by_label("Nom et prénom").fill("Lucie Bernard")
    partner.get_by_label("Adresse e-mail").fill("lucie.bernard@example.org")
    partner.get_by_role("button", name="Réserver un créneau").click()
    expect(partner.locator("#consent-error")).to_have_text(
        "Le consentement de l'usager est obligatoire."
    )
    partner.get_by_label("L'usager accepte").check()
    partner.get_by_role("button", name="Réserver un créneau").click()
    partner.locator("#slots button").first.click()
    expect(partner.get_by_role("heading", name="Votre rendez-vous est confirmé")).to_be_visible(
        timeout=15_000
    )
    assert "/call#token=" in (partner.locator("#result-link").get_attribute("href") or "")
    # The day of that booking is listed at the point, with the link the point opens for it.
    day_row = partner.locator("#day-rows tr", has_text="Lucie Bernard")
    expect(day_row).to_be_visible(timeout=15_000)
    expect(day_row.locator("td").nth(3)).to_have_text("Prévu")
    day_link = day_row.get_by_role("link", name="Rejoindre l'appel — Lucie Bernard")
    assert "/call#token=" in (day_link.get_attribute("href") or "")
    assert blocking_violations(partner) == []

    # The form starts empty for each citizen: the same citizen asks for a call now.
    expect(partner.get_by_label("Nom et prénom")).to_have_value("")
    partner.get_by_label("Nom et prénom").fill("Lucie Bernard")
    partner.get_by_label("L'usager accepte").check()
    partner.get_by_role("button", name="Appel immédiat").click()
    expect(partner.locator("#status")).to_contain_text("En attente d'un agent", timeout=15_000)

    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, service.base_url)
    expect(agent.locator("#queue")).to_contain_text("Lucie Bernard", timeout=15_000)
    agent.get_by_role("button", name="Prendre l'appel suivant").click()
    expect(agent).to_have_url(CALL_URL, timeout=15_000)
    agent.get_by_role("button", name="Entrer dans le rendez-vous").click()

    join = partner.get_by_role("link", name="Rejoindre l'appel", exact=True)
    expect(join).to_be_visible(timeout=20_000)
    join.click()
    partner.get_by_role("button", name="Entrer dans le rendez-vous").click()
    # The citizen either waits in the lobby (then the agent admits) or comes straight in.
    agent.wait_for_function(
        "() => document.querySelector('#waiting li') || window.visioguichet.participants.size > 0",
        timeout=20_000,
    )
    admit = agent.get_by_role("button", name="Faire entrer Lucie Bernard")
    if admit.is_visible():
        admit.click()
    for page in (agent, partner):
        assert_media_keeps_flowing(page)


def test_a_partner_cancels_an_immediate_call_request_and_it_leaves_the_agents_queue(
    browser: Browser, service: RunningService
) -> None:
    partner = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_partner(partner, service.base_url)
    partner.get_by_label("Nom et prénom").fill("Paul Renard")
    partner.get_by_label("L'usager accepte").check()
    partner.get_by_role("button", name="Appel immédiat").click()
    expect(partner.locator("#status")).to_contain_text("En attente d'un agent", timeout=15_000)

    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, service.base_url)
    expect(agent.locator("#queue")).to_contain_text("Paul Renard", timeout=15_000)

    partner.get_by_role("button", name="Annuler la demande").click()
    expect(partner.locator("#status")).to_contain_text("Demande d'appel annulée", timeout=10_000)
    expect(partner.get_by_role("button", name="Annuler la demande")).to_be_hidden()
    expect(agent.locator("#queue")).not_to_contain_text("Paul Renard", timeout=10_000)
