"""Management in the consoles: the agent's absence takes a slot off the public booking
page; the administrator's new motif appears in the booking flow; the administrator's
closure day takes a day off; the agent moves an appointment. Every section passes axe."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import reach_motifs, sign_in_agent

pytestmark = [pytest.mark.slow, pytest.mark.browser]

INFO_MOTIF = "Information sur vos droits"


def paris_page(browser: Browser) -> Page:
    return browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()


def open_motif(page: Page, base_url: str, label: str) -> None:
    page.goto(f"{base_url}/book")
    motif = page.locator("#motifs button", has_text=label)
    reach_motifs(page, motif)
    motif.click()


DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")  # fmt: skip


def day_label(when: datetime) -> str:
    """How the booking page names a day (French, Paris date)."""
    return f"{DAYS[when.weekday()]} {when.day} {MONTHS[when.month - 1]}"


def slot_button(page: Page, base_url: str, when: datetime) -> Locator:
    """The page's button for the slot at ``when``, after choosing its day."""
    open_motif(page, base_url, INFO_MOTIF)
    days = page.locator("#days button")
    expect(days.first).to_be_visible(timeout=15_000)
    day = page.get_by_role("button", name=day_label(when), exact=True)
    if day.count():
        day.click()
    return page.get_by_role("button", name=f"{day_label(when)}, {when:%H:%M}", exact=True)


def test_agent_absence_takes_the_slot_off_the_public_booking_page(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    services = service.get_json("/api/services")
    motif = next(m for s in services for m in s["motifs"] if m["label"] == INFO_MOTIF)
    slots = service.get_json(f"/api/motifs/{motif['id']}/slots")["slots"]
    # Well clear of the minimum notice, so that time passing during the test changes nothing.
    soon = datetime.fromisoformat(slots[0]["start"]) + timedelta(hours=2)
    start = next(
        datetime.fromisoformat(s["start"])
        for s in slots
        if datetime.fromisoformat(s["start"]) >= soon
    )  # Paris offset: the wall time the page shows

    citizen = paris_page(browser)
    expect(slot_button(citizen, service.base_url, start)).to_have_count(1, timeout=15_000)

    agent = paris_page(browser)
    sign_in_agent(agent, service.base_url)
    expect(agent.get_by_role("heading", name="Mes disponibilités et absences")).to_be_visible(
        timeout=15_000
    )
    expect(agent.get_by_role("group", name="Lundi")).to_be_visible()
    agent.get_by_label("Début de l'absence").fill(start.strftime("%Y-%m-%dT%H:%M"))
    agent.get_by_label("Fin de l'absence").fill(
        (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    )
    agent.get_by_label("Motif (facultatif, ex. congés, formation)").fill("Formation")
    agent.get_by_role("button", name="Ajouter l'absence").click()
    expect(agent.locator("#avail-status")).to_have_text(
        re.compile("Absence ajoutée"), timeout=15_000
    )
    expect(agent.locator("#absences li")).to_have_count(1)
    expect(agent.locator("#absences li")).to_contain_text("Formation")
    agent.screenshot(path=str(artifacts_dir / "agent-availability.png"), full_page=True)
    assert blocking_violations(agent) == []

    gone = slot_button(citizen, service.base_url, start)
    expect(citizen.locator("#slots button, #no-slot:not([hidden])").first).to_be_visible(
        timeout=15_000
    )
    expect(gone).to_have_count(0)

    # Removing the absence from the list, by keyboard, offers the slot again.
    remove = agent.get_by_role("button", name=re.compile("^Supprimer l'absence"))
    remove.focus()
    agent.keyboard.press("Enter")
    expect(agent.locator("#avail-status")).to_have_text("Absence supprimée.", timeout=15_000)
    expect(agent.locator("#absences li")).to_have_count(0)
    expect(slot_button(citizen, service.base_url, start)).to_have_count(1, timeout=15_000)


def test_admin_creates_a_motif_that_appears_in_the_booking_flow(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    admin = paris_page(browser)
    admin.goto(f"{service.base_url}/admin")
    admin.get_by_label("Adresse e-mail").fill("admin@demo.visioguichet.fr")
    admin.get_by_label("Mot de passe").fill("demo-admin-2026")
    admin.get_by_role("button", name="Se connecter").click()
    expect(admin.get_by_role("heading", name="Gestion de l'organisme")).to_be_visible(
        timeout=15_000
    )
    expect(admin.locator("#motif-rows tr")).to_have_count(3, timeout=15_000)

    # A mistake first: the field says what is wrong, then the motif is created.
    admin.get_by_label("Libellé du motif").fill("Accompagnement numérique")
    admin.get_by_label("Durée (minutes)").fill("7")
    admin.get_by_role("button", name="Créer le motif").click()
    expect(admin.locator("#motif-duration_min-error")).to_have_text(re.compile("pas de 5"))
    expect(admin.get_by_label("Durée (minutes)")).to_have_attribute("aria-invalid", "true")
    admin.get_by_label("Durée (minutes)").fill("15")
    admin.get_by_label("Téléphone").check()
    admin.get_by_role("button", name="Créer le motif").click()
    expect(admin.locator("#mgmt-status")).to_have_text(
        "Motif « Accompagnement numérique » créé.", timeout=15_000
    )
    row = admin.locator("#motif-rows tr", has_text="Accompagnement numérique")
    expect(row).to_contain_text("Visio, Téléphone")

    # The administrator also keeps an agent's hours and absences.
    admin.get_by_role("button", name="Horaires et absences — Camille Martin").click()
    expect(
        admin.get_by_role("heading", name="Horaires et absences de Camille Martin")
    ).to_be_focused(timeout=15_000)
    expect(admin.get_by_role("group", name="Dimanche")).to_be_visible()
    leave = (datetime.now() + timedelta(days=10)).replace(hour=9, minute=0)
    admin.get_by_label("Début de l'absence").fill(leave.strftime("%Y-%m-%dT%H:%M"))
    admin.get_by_label("Fin de l'absence").fill(leave.strftime("%Y-%m-%dT17:00"))
    admin.get_by_role("button", name="Ajouter l'absence").click()
    expect(admin.locator("#absences li")).to_have_count(1, timeout=15_000)
    admin.screenshot(path=str(artifacts_dir / "admin-management.png"), full_page=True)
    assert blocking_violations(admin) == []
    admin.get_by_role("button", name=re.compile("^Supprimer l'absence")).click()
    expect(admin.locator("#absences li")).to_have_count(0, timeout=15_000)

    citizen = paris_page(browser)
    open_motif(citizen, service.base_url, "Accompagnement numérique")
    expect(citizen.locator("#slots button").first).to_be_visible(timeout=15_000)
    first = citizen.locator("#slots button").first.inner_text().strip()
    assert re.fullmatch(r"\d\d:\d\d", first), first

    # Withdrawn again, the motif leaves the booking flow.
    row.get_by_role("button", name="Retirer — Accompagnement numérique").click()
    expect(admin.locator("#mgmt-status")).to_contain_text("retiré", timeout=15_000)
    citizen.goto(f"{service.base_url}/book")
    expect(citizen.locator("#motifs button", has_text=INFO_MOTIF)).to_be_visible(timeout=15_000)
    expect(citizen.locator("#motifs button", has_text="Accompagnement numérique")).to_have_count(0)


def test_agent_cancels_an_appointment_from_the_agenda(
    browser: Browser, service: RunningService
) -> None:
    from tests.web.test_no_show_dashboard import book_through_api

    booking = book_through_api(service, "Inès Moreau")
    agent = paris_page(browser)
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={booking['start'][:10]}")
    row = agent.locator("#rows tr", has_text="Inès Moreau")
    expect(row).to_be_visible(timeout=15_000)
    agent.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("^Annuler le rendez-vous — Inès Moreau")).click()
    expect(agent.locator("#status")).to_have_text(
        "Rendez-vous annulé. L'usager est prévenu par e-mail.", timeout=15_000
    )
    expect(row.locator("td").nth(3)).to_have_text("Annulé")
    free = service.get_json(f"/api/motifs/{booking['motif']['id']}/slots")["slots"]
    assert booking["start"] in [s["start"] for s in free]  # the time is offered again


def test_admin_flags_a_motif_for_review_and_the_agent_confirms_the_request(
    browser: Browser, service: RunningService
) -> None:
    from tests.web.test_no_show_dashboard import book_through_api

    admin = paris_page(browser)
    admin.goto(f"{service.base_url}/admin")
    admin.get_by_label("Adresse e-mail").fill("admin@demo.visioguichet.fr")
    admin.get_by_label("Mot de passe").fill("demo-admin-2026")
    admin.get_by_role("button", name="Se connecter").click()
    # The motif book_through_api books: the first offered by video.
    motif = next(m for m in service.get_json("/api/services")[0]["motifs"] if m["video"])
    admin.get_by_role("button", name=f"Modifier — {motif['label']}").click()
    expect(admin.get_by_label("Libellé du motif")).to_be_focused()
    admin.get_by_label("Demande à vérifier par un agent").check()
    admin.get_by_role("button", name="Enregistrer le motif").click()
    expect(admin.locator("#mgmt-status")).to_have_text(
        f"Motif « {motif['label']} » enregistré.", timeout=15_000
    )

    booking = book_through_api(service, "Léa Petit")
    assert booking["status"] == "pending" and booking["join_url"] is None
    agent = paris_page(browser)
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={booking['start'][:10]}")
    row = agent.locator("#rows tr", has_text="Léa Petit")
    expect(row.locator("td").nth(3)).to_have_text("À confirmer", timeout=15_000)
    row.get_by_role("button", name=re.compile("^Confirmer la demande — Léa Petit")).click()
    expect(agent.locator("#status")).to_contain_text("Demande confirmée", timeout=15_000)
    expect(row.locator("td").nth(3)).to_have_text("Prévu")
    assert blocking_violations(agent) == []


def sign_in_admin(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/admin")
    page.get_by_label("Adresse e-mail").fill("admin@demo.visioguichet.fr")
    page.get_by_label("Mot de passe").fill("demo-admin-2026")
    page.get_by_role("button", name="Se connecter").click()


def test_admin_closes_a_day_and_its_slots_leave_the_booking_page(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    services = service.get_json("/api/services")
    motif = next(m for s in services for m in s["motifs"] if m["label"] == INFO_MOTIF)
    day = (datetime.now() + timedelta(days=3)).date().isoformat()
    slots_url = f"/api/motifs/{motif['id']}/slots?from={day}&to={day}"
    assert service.get_json(slots_url)["slots"]

    admin = paris_page(browser)
    sign_in_admin(admin, service.base_url)
    expect(admin.get_by_role("heading", name="Jours de fermeture")).to_be_visible(timeout=15_000)
    expect(admin.get_by_label("Calendrier des jours fériés")).to_have_value("none")

    # Without a reason the field says what is missing; with one, the day is closed.
    admin.get_by_label("Date de fermeture").fill(day)
    admin.get_by_role("button", name="Fermer ce jour").click()
    expect(admin.locator("#closure-label-error")).to_contain_text("raison", timeout=15_000)
    expect(admin.get_by_label("Raison (ex. pont, grève)")).to_have_attribute("aria-invalid", "true")
    expect(admin.get_by_label("Raison (ex. pont, grève)")).to_be_focused()
    admin.get_by_label("Raison (ex. pont, grève)").fill("Pont")
    admin.keyboard.press("Enter")
    expect(admin.locator("#closure-status")).to_contain_text(
        "Jour de fermeture ajouté", timeout=15_000
    )
    expect(admin.locator("#closure-days li")).to_have_count(1)
    expect(admin.locator("#closure-days li")).to_contain_text("Pont")
    assert service.get_json(slots_url)["slots"] == []
    admin.screenshot(path=str(artifacts_dir / "admin-closures.png"), full_page=True)
    assert blocking_violations(admin) == []

    # Reopened by keyboard, the day offers its slots again.
    reopen = admin.get_by_role("button", name=re.compile("^Rouvrir"))
    reopen.focus()
    admin.keyboard.press("Enter")
    expect(admin.locator("#closure-status")).to_have_text("Jour rouvert.", timeout=15_000)
    expect(admin.locator("#closure-days li")).to_have_count(0)
    assert service.get_json(slots_url)["slots"]


def test_agent_moves_an_appointment_to_another_free_slot(
    browser: Browser, service: RunningService
) -> None:
    from tests.web.test_no_show_dashboard import book_through_api

    booking = book_through_api(service, "Nadia Roux", another_that_day=True)
    day = booking["start"][:10]
    agent = paris_page(browser)
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={day}")
    row = agent.locator("#rows tr", has_text="Nadia Roux")
    expect(row).to_be_visible(timeout=15_000)
    row.get_by_role("button", name=re.compile("^Déplacer — Nadia Roux")).click()
    heading = agent.get_by_role("heading", name=re.compile("^Déplacer le rendez-vous de Nadia"))
    expect(heading).to_be_focused(timeout=15_000)
    choices = agent.locator("#move-slots button")
    expect(choices.first).to_be_visible(timeout=15_000)
    target = choices.last  # any other free time of the day
    label = target.get_attribute("aria-label") or ""
    assert label.startswith("Déplacer à ")
    assert blocking_violations(agent) == []
    target.click()
    expect(agent.locator("#status")).to_contain_text("Rendez-vous déplacé", timeout=15_000)
    expect(agent.locator("#move")).to_be_hidden()
    moved_row = agent.locator("#rows tr", has_text="Nadia Roux")
    expect(moved_row.locator("td").first).to_have_text(label.removeprefix("Déplacer à "))
    free = service.get_json(f"/api/motifs/{booking['motif']['id']}/slots")["slots"]
    assert booking["start"] in [s["start"] for s in free]  # the old time is offered again
