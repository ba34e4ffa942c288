"""The call page tells a citizen who comes too early from when the call opens."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import RunningService

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_citizen_too_early_is_told_from_when_the_call_opens(
    browser: Browser, service: RunningService
) -> None:
    opens = time.time() + 3 * 3600
    token = service.signer.mint(
        room=f"bk-early-{uuid.uuid4().hex[:8]}",
        role="guest",
        subject="citizen-1",
        name="Jean Dupont",
        expires_at=opens + 3600,
        not_before=opens,
        lobby=True,
    )
    page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
    page.goto(f"{service.base_url}/call#token={token}")
    page.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=20_000)

    status = page.locator("#status")
    expect(status).to_contain_text("pas encore ouvert", timeout=20_000)
    expect(status).to_contain_text(
        datetime.fromtimestamp(opens, ZoneInfo("Europe/Paris")).strftime("%H:%M")
    )
    expect(page.get_by_role("heading", name="Salle d'attente")).to_be_hidden()
