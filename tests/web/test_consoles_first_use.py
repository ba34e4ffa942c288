"""The consoles as a first user meets them: the sign-in page says which console it opens,
a partner or an agent sent to /admin lands on their own console, the admin page has a
table of contents and whole chart labels, the agenda offers nothing to do on a cancelled
row, and the partner point starts each citizen from an empty form with the outcome in
view."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import sign_in_agent
from tests.web.test_no_show_dashboard import book_through_api, post_json

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PARTNER = ("accueil@demo.visioguichet.fr", "demo-partner-2026")
ADMIN = ("admin@demo.visioguichet.fr", "demo-admin-2026")
AGENT = ("agent@demo.visioguichet.fr", "demo-agent-2026")


def new_page(browser: Browser, **options: Any) -> Page:
    return browser.new_context(locale="fr-FR", timezone_id="Europe/Paris", **options).new_page()


def sign_in_from(page: Page, base_url: str, path: str, account: tuple[str, str]) -> None:
    page.goto(f"{base_url}{path}")
    page.get_by_label("Adresse e-mail").fill(account[0])
    page.get_by_label("Mot de passe").fill(account[1])
    page.get_by_role("button", name="Se connecter").click()


def test_the_sign_in_page_names_the_console_it_opens(
    browser: Browser, service: RunningService
) -> None:
    page = new_page(browser)
    for path, title in (
        ("/admin", "Connexion administration"),
        ("/partner", "Connexion point partenaire"),
        ("/agent", "Connexion agent"),
    ):
        page.goto(f"{service.base_url}{path}")
        expect(page).to_have_url(re.compile(r".*/agent/login\?next="), timeout=15_000)
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page).to_have_title(f"{title} — Visioguichet")
    page.goto(f"{service.base_url}/agent/login")
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")


@pytest.mark.parametrize(
    ("account", "console", "heading"),
    [(PARTNER, "/partner", "Point partenaire"), (AGENT, "/agent", "Mes rendez-vous")],
)
def test_a_partner_or_an_agent_sent_to_admin_lands_on_their_own_console(
    browser: Browser, service: RunningService, account: tuple[str, str], console: str, heading: str
) -> None:
    page = new_page(browser)
    errors: list[str] = []
    page.on("response", lambda r: errors.append(r.url) if r.status == 403 else None)
    sign_in_from(page, service.base_url, "/admin", account)
    expect(page).to_have_url(f"{service.base_url}{console}", timeout=15_000)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
    expect(page.get_by_text("Une erreur est survenue")).to_have_count(0)
    assert [url for url in errors if "/api/stats" in url or "/api/admin" in url] == []


def test_the_admin_page_has_a_table_of_contents_and_whole_chart_labels(
    browser: Browser, service: RunningService
) -> None:
    services = service.get_json("/api/services")
    motif = next(m for s in services for m in s["motifs"] if m["video"])
    assert len(motif["label"]) > 16, "the demo's motif names are longer than a cut label"
    day = book_through_api(service, "Marc Petit")["start"][:10]
    page = new_page(browser, viewport={"width": 1280, "height": 800})
    sign_in_from(page, service.base_url, "/admin", ADMIN)
    expect(page.get_by_role("heading", name="Statistiques")).to_be_visible(timeout=15_000)
    page.get_by_label("Du", exact=True).fill(day)
    page.get_by_label("Au", exact=True).fill(day)
    page.get_by_role("button", name="Afficher").click()
    label = page.locator("figure.chart svg text").first
    expect(label).to_have_text(motif["label"], timeout=15_000)
    page.wait_for_timeout(200)  # the labels are fitted once laid out
    fits = label.evaluate(
        "(t) => { const box = t.getBBox(); const view = t.ownerSVGElement.viewBox.baseVal; "
        "return box.x >= 0 && box.x + box.width <= view.width + 0.5; }"
    )
    assert fits

    toc = page.get_by_role("navigation", name="Sur cette page")
    expect(toc).to_be_visible()
    for name, target in (
        ("Motifs de rendez-vous", "#h-motifs"),
        ("Agents", "#h-agents"),
        ("Jours de fermeture", "#h-closures"),
        ("Points partenaires", "#h-points"),
    ):
        link = toc.get_by_role("link", name=name, exact=True)
        assert link.get_attribute("href") == target
    toc.get_by_role("link", name="Points partenaires").click()
    expect(page).to_have_url(re.compile(r"#h-points$"))
    expect(page.locator("#h-points")).to_be_in_viewport()
    assert blocking_violations(page) == []


def test_a_cancelled_row_of_the_agenda_offers_nothing_to_do(
    browser: Browser, service: RunningService
) -> None:
    booking = book_through_api(service, "Anne Roux")
    manage = urllib.parse.urlsplit(booking["manage_url"])
    token = urllib.parse.parse_qs(manage.fragment)["token"][0]
    post_json(f"{service.base_url}/api/manage/{token}/cancel", {})
    agent = new_page(browser)
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={booking['start'][:10]}")
    row = agent.locator("#rows tr", has_text="Anne Roux")
    expect(row.locator("td").nth(3)).to_have_text("Annulé", timeout=15_000)
    expect(row.get_by_role("button")).to_have_count(0)


def test_the_partner_point_starts_each_citizen_afresh_with_the_outcome_in_view(
    browser: Browser, service: RunningService
) -> None:
    partner = new_page(browser, viewport={"width": 360, "height": 640})
    sign_in_from(partner, service.base_url, "/partner", PARTNER)
    expect(partner.get_by_role("heading", name="Point partenaire")).to_be_visible(timeout=15_000)

    def fill(name: str, email: str) -> None:
        partner.get_by_label("Nom et prénom").fill(name)
        partner.get_by_label("Adresse e-mail").fill(email)
        partner.get_by_label("L'usager accepte").check()

    fill("Lucie Bernard", "lucie.bernard@example.org")
    partner.get_by_role("button", name="Réserver un créneau").click()
    partner.locator("#slots button").first.click()
    done = partner.get_by_role("heading", name="Votre rendez-vous est confirmé")
    expect(done).to_be_visible(timeout=15_000)
    expect(partner.locator("#result-link")).to_be_in_viewport()
    expect(partner.get_by_label("Nom et prénom")).to_have_value("")
    expect(partner.get_by_label("Adresse e-mail")).to_have_value("")
    expect(partner.get_by_label("L'usager accepte")).not_to_be_checked()

    # The next citizen asks for an immediate call: the previous outcome goes at once.
    fill("Karim Haddad", "karim.haddad@example.org")
    partner.get_by_role("button", name="Appel immédiat").click()
    expect(done).to_be_hidden()
    expect(partner.locator("#status")).to_contain_text("En attente d'un agent", timeout=15_000)

    agent = new_page(browser)
    sign_in_agent(agent, service.base_url)
    expect(agent.locator("#queue")).to_contain_text("Karim Haddad", timeout=15_000)
    agent.get_by_role("button", name="Prendre l'appel suivant").click()
    expect(agent).to_have_url(re.compile(r".*/call#token=.+"), timeout=15_000)

    join = partner.get_by_role("link", name="Rejoindre l'appel", exact=True)
    expect(join).to_be_in_viewport(timeout=20_000)
    expect(partner.locator("#status")).not_to_contain_text("En attente")
    expect(partner.get_by_label("Nom et prénom")).to_have_value("")
    expect(partner.get_by_label("L'usager accepte")).not_to_be_checked()
