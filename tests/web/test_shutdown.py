"""The service stops promptly on SIGTERM even while an agent console keeps its live queue
stream open (a restart must not hang for a minute)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.support.server import run_service
from tests.web.journeys import sign_in_agent

pytestmark = [pytest.mark.slow, pytest.mark.browser]

STOP_BOUND_S = 8.0  # generous: measured about 3 s here


def test_service_stops_promptly_with_an_agent_console_open(
    browser: Browser, tmp_path: Path
) -> None:
    with run_service(tmp_path / "service") as service:
        page = browser.new_context(locale="fr-FR").new_page()
        sign_in_agent(page, service.base_url)
        # The console's live queue (Server-Sent Events) has answered: the stream is open.
        expect(page.locator("#queue-status")).not_to_be_empty(timeout=15_000)
        page.wait_for_timeout(500)
        started = time.monotonic()
        service.process.terminate()
        service.process.wait(timeout=30)
        took = time.monotonic() - started
        page.context.close()
    assert service.process.returncode == 0
    assert took < STOP_BOUND_S, f"stopping took {took:.1f} s"
