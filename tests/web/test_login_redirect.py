"""After signing in, ``?next=`` sends the user only to a path of this origin: whatever
the URL parser makes of backslashes, tabs and dot segments, a foreign host is refused."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.support.server import RunningService
from tests.web.journeys import DEMO_AGENT_EMAIL, DEMO_AGENT_PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser]

# "Elsewhere" is another loopback address, so a redirect that escapes goes nowhere real;
# the route guard below aborts it anyway.
ELSEWHERE = "127.0.0.2"
ESCAPES = (
    f"/\\{ELSEWHERE}/x",
    f"/%09/{ELSEWHERE}/x",
    f"/%5C{ELSEWHERE}/x",
    f"//{ELSEWHERE}/x",
    f"/.//{ELSEWHERE}/x",
    f"http://{ELSEWHERE}/x",
    "javascript:alert(1)",
)


@pytest.fixture
def page(browser: Browser, service: RunningService) -> Iterator[Page]:
    context = browser.new_context(locale="fr-FR")
    own_host = urlsplit(service.base_url).netloc

    def only_the_service(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own_host:
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_service)
    yield context.new_page()
    context.close()


def sign_in_with_next(page: Page, base_url: str, raw_next: str) -> None:
    page.goto(f"{base_url}/agent/login?next={raw_next}")
    page.get_by_label("Adresse e-mail").fill(DEMO_AGENT_EMAIL)
    page.get_by_label("Mot de passe").fill(DEMO_AGENT_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()


@pytest.mark.parametrize("raw_next", ESCAPES)
def test_a_next_leaving_the_origin_lands_on_the_console(
    page: Page, service: RunningService, raw_next: str
) -> None:
    sign_in_with_next(page, service.base_url, raw_next)
    expect(page).to_have_url(f"{service.base_url}/agent", timeout=15_000)


def test_a_same_origin_next_keeps_its_query_and_fragment(
    page: Page, service: RunningService
) -> None:
    sign_in_with_next(page, service.base_url, "%2Fagent%3Fday%3D2026-12-07%23agenda")
    expect(page).to_have_url(f"{service.base_url}/agent?day=2026-12-07#agenda", timeout=15_000)
