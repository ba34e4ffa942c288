"""Agent and citizen meet in the call room in two real Chromium pages, through our SFU."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import assert_media_keeps_flowing

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def open_call(browser: Browser, service: RunningService, token: str) -> Page:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{service.base_url}/call#token={token}")
    # Pre-call check: network probe answered, devices listed, microphone level moving.
    expect(page.locator("#network")).to_contain_text("Réseau : bon", timeout=15_000)
    expect(page.get_by_label("Caméra").locator("option")).not_to_have_count(0)
    page.wait_for_function("document.getElementById('level').value > 0", timeout=15_000)
    page.get_by_role("button", name="Entrer dans le rendez-vous").click()
    return page


def test_agent_admits_citizen_they_see_hear_and_chat_and_media_survives_ice_restart(
    browser: Browser, service: RunningService
) -> None:
    room = f"bk-web-call-{uuid.uuid4().hex[:8]}"
    agent_token = service.mint(room=room, role="host", subject="agent-1", name="Claire Martin")
    citizen_token = service.mint(
        room=room, role="guest", subject="citizen-1", name="Jean Dupont", lobby=True
    )
    agent = open_call(browser, service, agent_token)
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)

    citizen = open_call(browser, service, citizen_token)
    expect(citizen.get_by_role("status")).to_contain_text("salle d'attente", timeout=20_000)

    admit = agent.get_by_role("button", name="Faire entrer Jean Dupont")
    expect(admit).to_be_visible(timeout=20_000)
    admit.click()

    for page in (agent, citizen):
        assert_media_keeps_flowing(page)

    citizen.get_by_role("button", name="Messages").click()
    citizen.get_by_label("Votre message").fill("Bonjour, vous m'entendez ?")
    citizen.get_by_role("button", name="Envoyer", exact=True).click()
    expect(agent.locator("#messages")).to_contain_text("Jean Dupont : Bonjour, vous m'entendez ?")
    expect(citizen.locator("#messages")).to_contain_text("Bonjour, vous m'entendez ?")

    citizen.evaluate("() => window.visioguichet.restartIce()")
    expect(citizen.get_by_role("status").first).to_contain_text("communication", timeout=20_000)
    assert_media_keeps_flowing(citizen)
    assert_media_keeps_flowing(agent)

    agent.get_by_role("button", name="Partager l'écran").click()
    expect(agent.get_by_role("button", name="Arrêter le partage")).to_be_visible(timeout=15_000)
    citizen.wait_for_function(
        "(() => { const v = document.getElementById('screen'); "
        "return v.videoWidth > 0 && !v.hidden; })()",
        timeout=30_000,
    )

    assert blocking_violations(agent) == []
    assert blocking_violations(citizen) == []
    agent.get_by_role("button", name="Terminer pour tous").click()
    expect(citizen.get_by_role("status")).to_contain_text("terminé", timeout=20_000)
