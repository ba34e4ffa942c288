"""The citizen sees who runs the site before booking: the operator's name and logo in the
header of every citizen page (in French and English), its colour on the buttons; the
footer's legal links lead to the three pages, which say the purge setting's value; what
an administrator changes on the console shows on the next page, their markup as text."""

from __future__ import annotations

import io
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.support.server import RunningService, run_service
from tests.web.accessibility import blocking_violations
from tests.web.test_management_consoles import sign_in_admin
from tests.web.test_no_show_dashboard import book_through_api

pytestmark = [pytest.mark.slow, pytest.mark.browser]

OPERATOR = "Mairie de Testville"
CITIZEN_PAGES = ("/", "/book", "/manage", "/survey", "/mentions-legales", "/no-such-page")


@pytest.fixture(scope="module")
def operated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    data_dir = tmp_path_factory.mktemp("operated")
    logo = data_dir / "logo.jpg"
    Image.new("RGB", (120, 60), (138, 21, 56)).save(logo, format="JPEG")
    flags = ["--operator-name", OPERATOR, "--operator-logo", str(logo)]
    flags += ["--operator-colour", "#8a1538", "--purge-after-days", "30"]
    with run_service(data_dir, extra_args=flags) as running:
        yield running


def new_page(browser: Browser) -> Page:
    return browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()


def logo_loaded(page: Page) -> bool:
    return bool(
        page.evaluate(
            "() => { const img = document.querySelector('header .operator-logo');"
            " return !!img && img.complete && img.naturalWidth === 120; }"
        )
    )


def test_every_citizen_page_names_the_operator_with_its_logo_and_colour(
    browser: Browser, operated: RunningService
) -> None:
    page = new_page(browser)
    for lang in ("fr", "en"):
        for path in CITIZEN_PAGES:
            page.goto(f"{operated.base_url}{path}?lang={lang}")
            page.wait_for_load_state("networkidle")
            brand = page.locator("header.site a.brand")
            expect(brand.locator(".operator-name")).to_have_text(OPERATOR)
            assert page.title().endswith(f" — {OPERATOR}"), path
            assert logo_loaded(page), path
    page.goto(f"{operated.base_url}/?lang=fr")
    expect(page.locator("header .brand-tagline")).to_have_text("Rendez-vous en visio avec un agent")
    colour = page.locator("main a.button").first.evaluate(
        "el => getComputedStyle(el).backgroundColor"
    )
    assert colour == "rgb(138, 21, 56)"
    # no State mark without --state-marks
    assert page.locator(".state-block").count() == 0
    page.context.close()


def test_the_footer_links_lead_to_the_legal_pages(
    browser: Browser, operated: RunningService
) -> None:
    page = new_page(browser)
    page.goto(f"{operated.base_url}/book")
    footer = page.locator("footer.site")
    expect(footer).to_contain_text(OPERATOR)
    footer.get_by_role("link", name="Mentions légales").click()
    expect(page).to_have_url(f"{operated.base_url}/mentions-legales")
    expect(page.locator("h1")).to_have_text("Mentions légales")
    expect(page.locator("main")).to_contain_text(f"Ce site est édité par {OPERATOR}.")
    page.locator("footer.site").get_by_role("link", name="Données personnelles").click()
    expect(page).to_have_url(f"{operated.base_url}/donnees-personnelles")
    expect(page.locator("h1")).to_have_text("Données personnelles")
    expect(page.locator("table.facts")).to_contain_text(
        "30 jours après la fin du rendez-vous, puis effacés"
    )
    page.locator("footer.site").get_by_role("link", name="Accessibilité : non conforme").click()
    expect(page).to_have_url(f"{operated.base_url}/accessibilite")
    expect(page.locator("h1")).to_have_text("Déclaration d'accessibilité")
    expect(page.locator("main")).to_contain_text("Résultats des tests automatiques")
    assert blocking_violations(page) == []
    page.context.close()


def test_what_the_administrator_changes_shows_on_the_citizen_pages_as_text(
    browser: Browser, operated: RunningService, artifacts_dir: Path
) -> None:
    admin = new_page(browser)
    sign_in_admin(admin, operated.base_url)
    expect(admin.get_by_label("Nom de l'organisme")).to_have_value(OPERATOR, timeout=15_000)
    admin.get_by_label("Nom de l'organisme").fill("CAF <b>du</b> Rhône")
    admin.get_by_role("button", name="Enregistrer l'identité").click()
    expect(admin.locator("#site-status")).to_have_text("Enregistré.")
    admin.get_by_label("Couleur principale (boutons et liens)").fill("#ffff00")
    admin.get_by_role("button", name="Enregistrer l'identité").click()
    expect(admin.locator("#site-colour-error")).to_contain_text("Contraste")
    admin.get_by_label("Couleur principale (boutons et liens)").fill("#8a1538")

    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
    admin.locator("#site-logo").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": svg}
    )
    admin.get_by_role("button", name="Envoyer le logo").click()
    expect(admin.locator("#site-logo-error")).to_contain_text("SVG")
    out = io.BytesIO()
    Image.new("RGB", (200, 100), (0, 0, 145)).save(out, format="PNG")
    admin.locator("#site-logo").set_input_files(
        {"name": "logo.png", "mimeType": "image/png", "buffer": out.getvalue()}
    )
    admin.get_by_role("button", name="Envoyer le logo").click()
    expect(admin.locator("#logo-preview")).to_be_visible()

    admin.get_by_label("Page", exact=True).select_option("mentions-legales")
    text = "## Éditeur\nCAF du Rhône <script>window.pwned = 1</script>\n\n- https://caf.example"
    admin.get_by_label("Texte de la page").fill(text)
    admin.get_by_role("button", name="Enregistrer la page").click()
    expect(admin.locator("#legal-state")).to_have_text("Texte modifié par l'administration.")
    assert blocking_violations(admin) == []
    admin.screenshot(path=str(artifacts_dir / "admin-identity.png"), full_page=True)

    citizen = new_page(browser)
    citizen.goto(f"{operated.base_url}/mentions-legales")
    expect(citizen.locator("header .operator-name")).to_have_text("CAF <b>du</b> Rhône")
    assert citizen.locator("header b").count() == 0
    content = citizen.locator(".legal-text")
    expect(content.locator("h2")).to_have_text("Éditeur")
    expect(content).to_contain_text("CAF du Rhône <script>window.pwned = 1</script>")
    assert content.locator("script").count() == 0
    assert citizen.evaluate("() => window.pwned") is None
    expect(content.get_by_role("link", name="https://caf.example")).to_have_attribute(
        "href", "https://caf.example"
    )
    naturalWidth = citizen.evaluate(
        "() => document.querySelector('header .operator-logo').naturalWidth"
    )
    assert naturalWidth == 200
    citizen.screenshot(path=str(artifacts_dir / "legal-page.png"), full_page=True)
    citizen.context.close()
    admin.context.close()


# the page's answers to one URL's requests, held back in the browser: a slow network
SLOW_ANSWERS = """
(() => {
  const fetched = window.fetch;
  window.fetch = async (...args) => {
    const response = await fetched(...args);
    if (String(args[0]).includes("/api/admin/legal/accessibilite")) {
      await new Promise((done) => setTimeout(done, 1500));
    }
    return response;
  };
})();
"""


def test_text_typed_while_a_legal_page_loads_is_not_replaced_by_the_loaded_text(
    browser: Browser, operated: RunningService
) -> None:
    admin = new_page(browser)
    admin.add_init_script(SLOW_ANSWERS)
    sign_in_admin(admin, operated.base_url)
    admin.get_by_label("Page", exact=True).select_option("accessibilite")
    # typing waits until the page's text has loaded (the area is read-only meanwhile)
    expect(admin.locator("#legal-form")).to_have_attribute("aria-busy", "true")
    text = "## Nos engagements\nTexte saisi pendant le chargement."
    admin.get_by_label("Texte de la page").fill(text)
    # past the slow answer: what was typed is still there
    admin.wait_for_timeout(2000)
    expect(admin.get_by_label("Texte de la page")).to_have_value(text)
    admin.get_by_role("button", name="Enregistrer la page").click()
    expect(admin.locator("#legal-state")).to_have_text("Texte modifié par l'administration.")

    citizen = new_page(browser)
    citizen.goto(f"{operated.base_url}/accessibilite")
    expect(citizen.locator(".legal-text")).to_contain_text("Texte saisi pendant le chargement.")
    admin.get_by_role("button", name="Revenir au texte par défaut").click()
    expect(admin.locator("#legal-state")).to_have_text("Texte par défaut (non modifié).")
    citizen.context.close()
    admin.context.close()


def test_the_pre_call_check_shows_the_operator_and_the_legal_links(
    browser: Browser, operated: RunningService
) -> None:
    booking = book_through_api(operated, "Inès Martin")
    join = urllib.parse.urlsplit(booking["join_url"])
    page = new_page(browser)
    page.goto(f"{operated.base_url}{join.path}#{join.fragment}")
    page.wait_for_selector("#precheck[data-done=true]", timeout=20_000)
    name = operated.get_json("/api/site")["name"]  # a test before may have renamed it
    expect(page.locator("header .operator-name")).to_have_text(name)
    footer = page.locator("footer.site")
    expect(footer.get_by_role("link", name="Données personnelles")).to_be_visible()
    colour = footer.get_by_role("link", name="Mentions légales").evaluate(
        "el => getComputedStyle(el).color"
    )
    assert colour == "rgb(58, 58, 58)"  # the footer's grey on white, not the call's pale blue
    assert blocking_violations(page) == []
    page.context.close()
