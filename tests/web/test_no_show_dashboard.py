"""The agent marks a no-show in the agenda; the admin sees it in the statistics dashboard."""

from __future__ import annotations

import json
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService
from tests.web.accessibility import blocking_violations
from tests.web.journeys import sign_in_agent

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def post_json(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def book_through_api(
    service: RunningService, name: str, another_that_day: bool = False
) -> dict[str, Any]:
    """Book the first free slot (``another_that_day``: the first whose agent has two more
    free slots that day, since the booking's own buffer may take the next one; late in
    the evening, today's last slots are too few)."""
    services = service.get_json("/api/services")
    motif = next(m for s in services for m in s["motifs"] if m["video"])
    today = date.today()
    slots = service.get_json(
        f"/api/motifs/{motif['id']}/slots?from={today}&to={today + timedelta(days=13)}"
    )["slots"]
    slot = slots[0]
    if another_that_day:
        slot = next(
            s for s in slots
            if sum(o["start"][:10] == s["start"][:10] and o["agent_id"] == s["agent_id"]
                   for o in slots) >= 3
        )  # fmt: skip
    return dict(
        post_json(
            service.base_url + "/api/bookings",
            {
                "motif_id": motif["id"],
                "start": slot["start"],
                "agent_id": slot["agent_id"],
                "citizen": {"name": name, "email": "absent@example.org"},
            },
        )
    )


def test_agent_marks_no_show_and_admin_sees_it_in_the_dashboard(
    browser: Browser, service: RunningService, artifacts_dir: Path
) -> None:
    booking = book_through_api(service, "Paul Durand")
    day = booking["start"][:10]

    agent = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    sign_in_agent(agent, service.base_url)
    agent.goto(f"{service.base_url}/agent?date={day}")
    row = agent.locator("#rows tr", has_text="Paul Durand")
    expect(row).to_be_visible(timeout=15_000)
    row.get_by_role("button", name="Absent — Paul Durand").click()
    status_cell = agent.locator("#rows tr", has_text="Paul Durand").locator("td").nth(3)
    expect(status_cell).to_have_text("Absent", timeout=15_000)
    expect(agent.locator("#status")).to_have_text("Enregistré.")
    assert blocking_violations(agent) == []

    admin = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    admin.goto(f"{service.base_url}/admin")
    expect(admin).to_have_url(f"{service.base_url}/agent/login?next=%2Fadmin")
    admin.get_by_label("Adresse e-mail").fill("admin@demo.visioguichet.fr")
    admin.get_by_label("Mot de passe").fill("demo-admin-2026")
    admin.get_by_role("button", name="Se connecter").click()
    expect(admin.get_by_role("heading", name="Statistiques")).to_be_visible(timeout=15_000)
    admin.get_by_label("Du", exact=True).fill(day)
    admin.get_by_label("Au", exact=True).fill(day)
    admin.get_by_role("button", name="Afficher").click()
    no_shows_column = 1 + ["Groupe", "Rendez-vous", "Honorés", "Absents"].index("Absents")
    cell = admin.locator(f"#rows tr td:nth-child({no_shows_column})").first
    expect(cell).to_have_text("1", timeout=15_000)
    expect(admin.locator("figure.chart svg").first).to_have_attribute("role", "img")
    csv_href = admin.locator("#csv").get_attribute("href")
    assert csv_href and "format=csv" in csv_href
    admin.screenshot(path=str(artifacts_dir / "admin-dashboard.png"), full_page=True)
    assert blocking_violations(admin) == []
