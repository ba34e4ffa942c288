"""Agent and citizen meet in the call room in two real Chromium pages, through our SFU."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import assert_media_keeps_flowing, assert_media_resumes

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def open_call(browser: Browser, service: RunningService, token: str) -> Page:
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    page.goto(f"{service.base_url}/call#token={token}")
    # Pre-call check: network probe answered, devices listed, microphone level moving.
    expect(page.locator("#network")).to_contain_text("Réseau : bon", timeout=15_000)
    expect(page.get_by_label("Caméra").locator("option")).not_to_have_count(0)
    page.wait_for_function("() => document.getElementById('level').value > 0", timeout=15_000)
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
    expect(citizen.get_by_role("heading", name="Salle d'attente")).to_be_visible()

    admit = agent.get_by_role("button", name="Faire entrer Jean Dupont")
    expect(admit).to_be_visible(timeout=20_000)
    admit.click()

    expect(agent.get_by_role("button", name="Faire entrer Jean Dupont")).to_be_hidden()
    expect(citizen.get_by_role("heading", name="Salle d'attente")).to_be_hidden(timeout=20_000)
    for page in (agent, citizen):
        assert_media_keeps_flowing(page)

    citizen.get_by_role("button", name="Messages").click()
    citizen.get_by_label("Votre message").fill("Bonjour, vous m'entendez ?")
    citizen.get_by_role("button", name="Envoyer", exact=True).click()
    expect(agent.locator("#messages")).to_contain_text("Jean Dupont : Bonjour, vous m'entendez ?")
    expect(agent.locator("#status")).to_have_text("Nouveau message de Jean Dupont.")
    expect(agent.get_by_role("button", name="Messages •")).to_be_visible()
    expect(citizen.locator("#messages")).to_contain_text("Bonjour, vous m'entendez ?")

    # A network change (the browser goes back online on another network) restarts ICE:
    # both peer connections start over with new credentials and media goes on both ways.
    citizen.evaluate(
        "() => { const vg = window.visioguichet; "
        "window.oldPcs = [vg.publishPc, vg.subscribePc]; "
        "window.oldUfrag = vg.publishPc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]; "
        "window.dispatchEvent(new Event('online')); }"
    )
    citizen.wait_for_function(
        "() => { const vg = window.visioguichet; "
        "return vg.iceRestarts === 1 && vg.publishPc && vg.subscribePc "
        "&& !window.oldPcs.includes(vg.publishPc) && !window.oldPcs.includes(vg.subscribePc) "
        "&& vg.publishPc.connectionState === 'connected' "
        "&& vg.subscribePc.connectionState === 'connected'; }",
        timeout=30_000,
    )
    new_ufrag = citizen.evaluate(
        "window.visioguichet.publishPc.localDescription.sdp.match(/a=ice-ufrag:(\\S+)/)[1]"
    )
    assert new_ufrag != citizen.evaluate("window.oldUfrag")
    expect(citizen.locator("#status")).to_contain_text("communication", timeout=20_000)
    assert_media_resumes(citizen)
    assert_media_resumes(agent)

    # Mute and camera off act on the tracks sent, and say so to assistive technologies.
    citizen.get_by_role("button", name="Couper le micro").click()
    expect(citizen.get_by_role("button", name="Activer le micro")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert citizen.evaluate("window.visioguichet.local.getAudioTracks()[0].enabled") is False
    citizen.get_by_role("button", name="Activer le micro").click()
    assert citizen.evaluate("window.visioguichet.local.getAudioTracks()[0].enabled") is True
    citizen.get_by_role("button", name="Couper la caméra").click()
    assert citizen.evaluate("window.visioguichet.local.getVideoTracks()[0].enabled") is False
    citizen.get_by_role("button", name="Activer la caméra").click()

    # Documents: only PDF, PNG and JPEG of 10 MB at most, checked before anything is sent.
    upload = citizen.get_by_label("Envoyer un document")
    upload.set_input_files(
        files=[FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"bonjour")]
    )
    expect(citizen.locator("#file-error")).to_have_text(
        "Seuls les documents PDF, PNG et JPEG sont acceptés."
    )
    # 10 MB + 1 byte, made in the page (sending it through the driver would take seconds).
    upload.evaluate(
        "(input) => { const t = new DataTransfer(); "
        "t.items.add(new File([new Uint8Array(10 * 1024 * 1024 + 1)], 'gros.pdf', "
        "{type: 'application/pdf'})); input.files = t.files; "
        "input.dispatchEvent(new Event('change', {bubbles: true})); }"
    )
    expect(citizen.locator("#file-error")).to_have_text("Ce document dépasse 10 Mo.")

    agent.get_by_role("button", name="Partager l'écran").click()
    expect(agent.get_by_role("button", name="Arrêter le partage")).to_be_visible(timeout=15_000)
    citizen.wait_for_function(
        "() => { const v = document.getElementById('screen'); "
        "return v.videoWidth > 0 && !v.hidden; }",
        timeout=30_000,
    )

    assert blocking_violations(agent) == []
    assert blocking_violations(citizen) == []

    # The citizen hangs up; the agent is told, then ends the call and is asked the outcome.
    citizen.get_by_role("button", name="Raccrocher").click()
    expect(citizen.locator("#status")).to_have_text("Vous avez quitté le rendez-vous.")
    expect(agent.locator("#status")).to_contain_text("Jean Dupont a quitté", timeout=20_000)
    agent.get_by_role("button", name="Terminer pour tous").click()
    outcome = agent.get_by_role("heading", name="Comment s'est passé ce rendez-vous ?")
    expect(outcome).to_be_focused()


def test_ending_for_everyone_survives_a_dropped_signalling_socket(
    browser: Browser, service: RunningService
) -> None:
    """The host's "end for everyone" reaches the server even when the click finds the
    signalling socket down: the page reconnects and sends it, and the citizen's call ends."""
    room = f"bk-web-end-{uuid.uuid4().hex[:8]}"
    agent = open_call(
        browser, service, service.mint(room=room, role="host", subject="agent-1", name="Claire")
    )
    end = agent.get_by_role("button", name="Terminer pour tous")
    expect(end).to_be_visible(timeout=20_000)
    citizen = open_call(
        browser, service, service.mint(room=room, role="guest", subject="citizen-1", name="Jean")
    )
    expect(citizen.locator("#status")).to_contain_text("en communication", timeout=20_000)

    agent.evaluate("() => window.visioguichet.signaling.socket.close()")  # a network blip
    end.click()
    expect(citizen.locator("#status")).to_contain_text("terminé", timeout=20_000)
    expect(agent.locator("#status")).to_contain_text("terminé", timeout=20_000)
    for page in (agent, citizen):
        page.context.close()
