"""Every mapped page exists, is well nested, and uses only assets the app serves itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import web

VOID = {"meta", "link", "input", "br", "img", "hr", "source", "track", "wbr"}


class NestingChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value and tag in ("script", "link", "img"):
                self.assets.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()


@pytest.mark.parametrize("url_path", sorted(web.PAGES))
def test_page_is_well_nested_and_self_hosted(url_path: str) -> None:
    html = (web.STATIC_DIR / web.PAGES[url_path]).read_text(encoding="utf-8")
    checker = NestingChecker()
    checker.feed(html)
    assert checker.problems == [] and checker.stack == [], (checker.problems, checker.stack)
    assert '<html lang="fr">' in html
    for asset in checker.assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/static/"), asset
        assert (web.STATIC_DIR / asset.removeprefix("/static/")).is_file(), asset


def test_every_module_import_names_a_served_file() -> None:
    for script in web.STATIC_DIR.glob("*.js"):
        for target in re.findall(r'from "\./([\w.-]+)"', script.read_text(encoding="utf-8")):
            assert (web.STATIC_DIR / target).is_file(), (script.name, target)
