"""What the call page says: a refused link is the link's fault (not the network's) with
the way out; the waiting room says it once; the agent sees who the citizen is and
whether they are audio only, camera off or microphone off; a new-message notice does
not stay; the survey button after the call is readable."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService, run_service
from tests.web.journeys import assert_media_resumes, wait_for_remote_media
from tests.web.test_no_show_dashboard import book_through_api, post_json

pytestmark = [pytest.mark.slow, pytest.mark.browser]

HELP_PHONE = "01 23 45 67 89"
NETWORK_BLAME = "ne passent pas jusqu'au serveur"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(
        tmp_path_factory.mktemp("service"), extra_args=["--help-phone", HELP_PHONE]
    ) as running:
        yield running


def open_page(browser: Browser, url: str) -> Page:
    page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    page.goto(url)
    return page


def enter(browser: Browser, service: RunningService, token: str, *, camera: bool = True) -> Page:
    page = open_page(browser, f"{service.base_url}/call#token={token}")
    expect(page.locator("#precheck")).to_have_attribute("data-done", "true", timeout=30_000)
    name = "Entrer dans le rendez-vous" if camera else "Continuer sans caméra"
    page.get_by_role("button", name=name).click()
    return page


def assert_link_refused(page: Page, heading: str) -> None:
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name=heading)).to_be_focused()
    book = page.get_by_role("link", name="Prendre un nouveau rendez-vous")
    assert book.get_attribute("href") == "/book"
    phone = page.get_by_role("link", name=HELP_PHONE)
    expect(phone).to_be_visible()
    assert phone.get_attribute("href") == "tel:0123456789"
    expect(page.get_by_text("consulter, déplacer ou annuler", exact=False)).to_be_visible()
    expect(page.get_by_text(NETWORK_BLAME, exact=False)).to_be_hidden()
    expect(page.locator("#precheck")).to_be_hidden()


def test_a_bad_or_cancelled_join_link_is_said_to_be_the_links_fault_with_the_way_out(
    browser: Browser, service: RunningService
) -> None:
    garbled = open_page(browser, f"{service.base_url}/call#token=not-a-join-token")
    assert_link_refused(garbled, "Ce lien de rendez-vous n'est pas valide.")

    genuine = service.mint(room="bk-elsewhere", role="guest", subject="c-1", name="Eve")
    tampered = genuine[:-6] + ("AAAAAA" if not genuine.endswith("AAAAAA") else "BBBBBB")
    forged = open_page(browser, f"{service.base_url}/call#token={tampered}")
    assert_link_refused(forged, "Ce lien de rendez-vous n'est pas valide.")

    booking = book_through_api(service, "Paul Martin")
    manage = urllib.parse.urlsplit(booking["manage_url"])
    manage_token = urllib.parse.parse_qs(manage.fragment)["token"][0]
    post_json(f"{service.base_url}/api/manage/{manage_token}/cancel", {})
    # A token valid now for that booking's room (the mailed one opens 15 min before).
    token = service.mint(room=booking["id"], role="guest", subject="c-0", name="Paul Martin")
    cancelled = open_page(browser, f"{service.base_url}/call#token={token}")
    assert_link_refused(cancelled, "Ce rendez-vous a été annulé.")


def test_a_link_opened_before_its_time_is_not_blamed_on_the_network(
    browser: Browser, service: RunningService
) -> None:
    booking = book_through_api(service, "Rose Girard")
    join = urllib.parse.urlsplit(booking["join_url"])
    page = open_page(browser, f"{service.base_url}{join.path}#{join.fragment}")
    expect(page.locator("#precheck")).to_have_attribute("data-done", "true", timeout=30_000)
    expect(page.locator("#check-media")).to_contain_text("testés à l'ouverture du rendez-vous")
    expect(page.get_by_text(NETWORK_BLAME, exact=False)).to_be_hidden()
    expect(page.locator("#fallback")).to_be_hidden()


def test_the_waiting_room_says_it_once(browser: Browser, service: RunningService) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    token = service.mint(room=room, role="guest", subject="c-2", name="Jean", lobby=True)
    page = enter(browser, service, token)
    expect(page.get_by_role("heading", name="Salle d'attente")).to_be_visible(timeout=30_000)
    said = page.get_by_text("Vous êtes en salle d'attente.", exact=False)
    expect(said).to_have_count(1)
    expect(said).to_be_visible()


def test_the_agent_sees_who_the_citizen_is_and_what_they_turned_off_and_the_call_ends_well(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    agent = enter(
        browser, service, service.mint(room=room, role="host", subject="a-1", name="Claire Martin")
    )
    expect(agent.locator("#placeholder")).to_have_text(
        "En attente de l'autre personne…", timeout=30_000
    )
    citizen = enter(
        browser, service, service.mint(room=room, role="guest", subject="c-3", name="Lucie Bernard")
    )
    wait_for_remote_media(agent)
    who = agent.locator("#remote-who")
    expect(who).to_have_text("Lucie Bernard", timeout=20_000)
    expect(agent.locator("#placeholder")).to_be_hidden()

    citizen.get_by_role("button", name="Couper la caméra").click()
    placeholder = agent.locator("#placeholder")
    expect(placeholder).to_have_text("Lucie Bernard — caméra coupée", timeout=20_000)
    expect(placeholder).to_be_visible()
    citizen.get_by_role("button", name="Couper le micro").click()
    expect(placeholder).to_have_text("Lucie Bernard — caméra coupée, micro coupé", timeout=20_000)
    agent.screenshot(path=str(artifacts_dir / "agent-sees-camera-and-mic-off.png"))
    citizen.get_by_role("button", name="Activer la caméra").click()
    expect(who).to_have_text("Lucie Bernard — micro coupé", timeout=20_000)
    expect(placeholder).to_be_hidden()
    citizen.get_by_role("button", name="Activer le micro").click()
    expect(who).to_have_text("Lucie Bernard", timeout=20_000)
    assert_media_resumes(agent)

    # A new message is announced in the top bar, and the notice goes once the chat is open.
    citizen.get_by_role("button", name="Messages").click()
    citizen.get_by_label("Votre message").fill("Bonjour")
    citizen.get_by_role("button", name="Envoyer", exact=True).click()
    status = agent.locator("#status")
    expect(status).to_have_text("Nouveau message de Lucie Bernard.", timeout=15_000)
    agent.get_by_role("button", name="Messages •").click()
    expect(status).not_to_contain_text("Nouveau message")
    expect(status).to_have_text("Vous êtes en communication.")

    # After the call, the citizen's survey button is readable (white on blue).
    citizen.get_by_role("button", name="Raccrocher").click()
    survey = citizen.get_by_role("link", name="Donner votre avis sur ce rendez-vous")
    expect(survey).to_be_visible(timeout=15_000)
    colours = survey.evaluate(
        "(a) => { const s = getComputedStyle(a); return [s.color, s.backgroundColor]; }"
    )
    assert colours == ["rgb(255, 255, 255)", "rgb(11, 79, 163)"], colours


def test_the_agent_sees_a_citizen_who_came_in_audio_only(
    browser: Browser, service: RunningService
) -> None:
    room = f"room-{uuid.uuid4().hex[:8]}"
    agent = enter(
        browser, service, service.mint(room=room, role="host", subject="a-2", name="Claire Martin")
    )
    expect(agent.locator("#h-precheck")).to_be_hidden(timeout=30_000)
    enter(
        browser,
        service,
        service.mint(room=room, role="guest", subject="c-4", name="Lucie Bernard"),
        camera=False,
    )
    placeholder = agent.locator("#placeholder")
    expect(placeholder).to_have_text("Lucie Bernard — audio seulement", timeout=30_000)
    expect(placeholder).to_be_visible()
    expect(agent.get_by_text("En attente de l'autre personne")).to_be_hidden()
