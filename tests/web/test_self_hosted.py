"""No external CDN: every page and asset the service serves names no other host, and a
browser opening every page (the call room's pre-call check included) asks no other origin."""

from __future__ import annotations

import re
import urllib.parse
import urllib.request
import uuid
from html.parser import HTMLParser

import pytest
from playwright.sync_api import Browser, Request

import web
from tests.support.server import RunningService

pytestmark = [pytest.mark.slow, pytest.mark.browser]

URL_IN_TEXT = re.compile(r"""https?://[^\s"'`)<>]+""")
# XML namespace names identify a vocabulary; browsers never fetch them.
NAMESPACES = {"http://www.w3.org/2000/svg"}
MODULE_IMPORT = re.compile(r"""(?:from\s+|import\s*\(\s*)["'](\.{1,2}/[^"']+)["']""")
CSS_URL = re.compile(r"""url\(\s*["']?([^"')]+)["']?\s*\)""")


class AssetLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.links.append(value)


def fetch_text(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode("utf-8", "replace"))


# A link a person may follow elsewhere (the legal pages name the CNIL and the Défenseur
# des droits) is no asset: the browser fetches nothing from it on its own.
NAVIGATION_LINK = re.compile(r"""<a href="https://[^"<>]+" rel="noopener noreferrer">[^<]*</a>""")


def foreign_urls(text: str, own_origin: str) -> list[str]:
    return [
        url
        for url in URL_IN_TEXT.findall(NAVIGATION_LINK.sub("", text))
        if url not in NAMESPACES and not url.startswith(own_origin + "/")
    ]


def test_served_pages_and_every_asset_they_reach_name_no_other_host(
    service: RunningService,
) -> None:
    origin = service.base_url
    queue = [origin + path for path in web.PAGES]
    seen: set[str] = set()
    found: dict[str, list[str]] = {}
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        text = fetch_text(url)
        if foreign := foreign_urls(text, origin):
            found[url] = foreign
        path = urllib.parse.urlsplit(url).path
        links: list[str] = []
        if path.endswith(".js"):
            links = MODULE_IMPORT.findall(text)
        elif path.endswith(".css"):
            links = CSS_URL.findall(text)
        else:
            parser = AssetLinks()
            parser.feed(text)
            links = parser.links
        for link in links:
            if link.startswith(("data:", "#", "mailto:", "tel:")):
                continue
            absolute = urllib.parse.urljoin(url, link)
            if absolute.startswith(origin + "/static/"):
                queue.append(absolute.split("#")[0])
    reached = {urllib.parse.urlsplit(u).path for u in seen}
    # The crawl really followed the module graph and the stylesheet.
    assert {"/static/call.js", "/static/signaling.js", "/static/i18n.js"} <= reached
    assert "/static/app.css" in reached
    assert found == {}, found


def test_a_browser_opening_every_page_requests_only_the_service(
    browser: Browser, service: RunningService
) -> None:
    context = browser.new_context(locale="fr-FR")
    requested: list[str] = []

    def record(request: Request) -> None:
        requested.append(request.url)

    context.on("request", record)
    page = context.new_page()
    token = service.mint(
        room=f"bk-hosted-{uuid.uuid4().hex[:8]}", role="guest", subject="c-1", name="Awa"
    )
    for path in web.PAGES:
        page.goto(service.base_url + path)
        page.wait_for_load_state("networkidle")
    # Last, the call room with a real token: the pre-call check runs every probe it has.
    page.goto(f"{service.base_url}/call#token={token}")
    page.wait_for_selector("#precheck[data-done=true]", timeout=20_000)
    # No help line configured here: the page offers audio only and no number.
    assert service.get_json("/client-config") == {"help_phone": None}
    assert page.locator("#phone-line").is_hidden()
    assert page.locator("#phone-hint").is_visible()
    context.close()
    own = urllib.parse.urlsplit(service.base_url).netloc
    assert len(requested) > len(web.PAGES)
    elsewhere = [
        url
        for url in requested
        if not url.startswith(("data:", "blob:")) and urllib.parse.urlsplit(url).netloc != own
    ]
    assert elsewhere == []
