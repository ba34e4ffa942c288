"""« Être rappelé(e) »: a citizen whose pre-call check finds that media cannot get through
leaves a number beside the help line; the agent sees it on the agenda and in the list
beside the live queue, with the number to dial, and marks the call made. The same form
follows the call's own failure panel when media stops getting through in the call."""

from __future__ import annotations

import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService, run_service
from tests.web.accessibility import blocking_violations
from tests.web.journeys import sign_in_agent
from tests.web.test_booking_journey import bring_forward
from tests.web.test_precheck import RELAY_ONLY_JS

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.timeout(180)]

HELP_PHONE = "01 23 45 67 89"
EMAIL = "awa.rappel@example.org"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(
        tmp_path_factory.mktemp("call-me-back"), extra_args=("--help-phone", HELP_PHONE)
    ) as running:
        yield running


@pytest.fixture(scope="module")
def blocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """Media from no browser candidate of this machine is taken: every call fails."""
    with run_service(
        tmp_path_factory.mktemp("blocked"),
        extra_args=("--help-phone", HELP_PHONE),
        allow_remote_network="10.99.99.0/30",
    ) as running:
        yield running


def book(service: RunningService, email: str = EMAIL) -> dict[str, Any]:
    with urllib.request.urlopen(f"{service.base_url}/api/motifs/demo-motif-info/slots") as r:
        slot = json.load(r)["slots"][2]
    body = {
        "motif_id": "demo-motif-info",
        "start": slot["start"],
        "citizen": {"name": "Awa Diallo", "email": email},
    }
    request = urllib.request.Request(
        f"{service.base_url}/api/bookings",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as r:
        return dict(json.load(r))


def test_a_citizen_whose_video_cannot_work_asks_to_be_called_back(
    browser: Browser, service: RunningService
) -> None:
    booking = book(service)
    start = bring_forward(service, EMAIL, starts_in_s=5 * 60)

    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    context.add_init_script(RELAY_ONLY_JS)
    citizen = context.new_page()
    citizen.goto(booking["manage_url"])
    citizen.locator("#join-link").click()
    citizen.wait_for_selector("#precheck[data-done=true]", timeout=20_000)
    expect(citizen.get_by_role("heading", name="Être rappelé(e) par le service")).to_be_visible()
    expect(citizen.get_by_role("link", name=HELP_PHONE)).to_be_visible()
    phone = citizen.get_by_label("Votre numéro de téléphone")
    phone.fill("06 12 34")
    citizen.get_by_role("button", name="Demander à être rappelé(e)").click()
    expect(citizen.locator("#callback-error")).not_to_be_empty()
    expect(phone).to_have_attribute("aria-invalid", "true")
    phone.fill("06 12 34 56 78")
    citizen.get_by_role("button", name="Demander à être rappelé(e)").click()
    expect(citizen.locator("#callback-status")).to_have_text(
        "C'est noté : un agent vous rappellera au +33612345678.", timeout=15_000
    )
    expect(citizen.get_by_role("link", name=HELP_PHONE)).to_be_visible()
    assert blocking_violations(citizen) == []

    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={start.date().isoformat()}")
    row = agent.locator("#rows tr", has_text="Awa Diallo")
    expect(row).to_contain_text("À rappeler au +33612345678", timeout=15_000)
    expect(row.get_by_role("link", name="+33612345678")).to_have_attribute(
        "href", "tel:+33612345678"
    )
    waiting = agent.locator("#callbacks li", has_text="Awa Diallo")
    expect(waiting).to_contain_text("vidéo impossible avant l'appel")
    agent.get_by_role("button", name="Rappel fait — Awa Diallo +33612345678").click()
    expect(waiting).to_have_count(0, timeout=15_000)
    expect(row).not_to_contain_text("À rappeler")
    assert blocking_violations(agent) == []
    for page in (citizen, agent):
        page.context.close()


def test_when_the_call_fails_the_form_follows_its_failure_panel(
    browser: Browser, blocked: RunningService
) -> None:
    email = "awa.coupee@example.org"
    booking = book(blocked, email)
    start = bring_forward(blocked, email, starts_in_s=5 * 60)
    citizen = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    citizen.goto(booking["manage_url"])
    citizen.locator("#join-link").click()
    expect(citizen.locator("#precheck")).to_have_attribute("data-done", "true", timeout=30_000)
    citizen.get_by_role("button", name="Entrer dans le rendez-vous").click()
    # the agent lets the citizen in (signalling works; media will not)
    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, blocked.base_url)
    agent.goto(f"{blocked.base_url}/agent?date={start.date().isoformat()}")
    agent.locator("#rows tr", has_text="Awa Diallo").get_by_role(
        "button", name="Ouvrir l'appel"
    ).click(timeout=15_000)
    expect(agent.locator("#precheck")).to_have_attribute("data-done", "true", timeout=30_000)
    agent.get_by_role("button", name="Entrer dans le rendez-vous").click()
    agent.get_by_role("button", name="Faire entrer Awa Diallo").click(timeout=30_000)
    failed = citizen.get_by_role("heading", name="L'image et le son ne passent pas")
    expect(failed).to_be_visible(timeout=90_000)
    form = citizen.locator("#call-failure + #callback")
    expect(form).to_be_visible()
    expect(citizen.get_by_role("link", name=HELP_PHONE).first).to_be_visible()
    citizen.get_by_label("Votre numéro de téléphone").fill("07 98 76 54 32")
    citizen.get_by_role("button", name="Demander à être rappelé(e)").click()
    expect(citizen.locator("#callback-status")).to_have_text(
        "C'est noté : un agent vous rappellera au +33798765432.", timeout=15_000
    )
    with sqlite3.connect(blocked.data_dir / "visioguichet.db") as db:
        asked = db.execute(
            "SELECT phone, moment FROM callback_requests WHERE booking_id = ?", (booking["id"],)
        ).fetchall()
    assert asked == [("+33798765432", "call")]
    for page in (citizen, agent):
        page.context.close()
