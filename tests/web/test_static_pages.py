"""Every mapped page exists, is well nested (as served, its shared parts included), uses
only assets the app serves itself, and has nothing inline the Content-Security-Policy
(script-src/style-src 'self') would block."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import web
from visioguichet.pages import assemble

VOID = {"meta", "link", "input", "br", "img", "hr", "source", "track", "wbr"}


class NestingChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.assets: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style" or (tag == "script" and not dict(attrs).get("src")):
            self.inline.append(f"<{tag}> without src")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}=javascript:...>")
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
    html = assemble(web.STATIC_DIR / web.PAGES[url_path])
    checker = NestingChecker()
    checker.feed(html)
    assert checker.problems == [] and checker.stack == [], (checker.problems, checker.stack)
    assert '<html lang="fr">' in html
    for asset in checker.assets:
        if asset.startswith("data:"):
            continue
        assert asset.startswith("/static/"), asset
        assert (web.STATIC_DIR / asset.removeprefix("/static/")).is_file(), asset


@pytest.mark.parametrize("url_path", sorted(web.PAGES))
def test_page_has_no_inline_script_style_or_handler(url_path: str) -> None:
    checker = NestingChecker()
    checker.feed(assemble(web.STATIC_DIR / web.PAGES[url_path]))
    assert checker.inline == [], checker.inline


def test_scripts_write_no_markup_a_policy_would_block() -> None:
    inline = re.compile(
        r"""style=["']|\son[a-z]+=["']|javascript:|setAttribute\(\s*["'](style|on)"""
    )
    for script in web.STATIC_DIR.glob("*.js"):
        text = script.read_text(encoding="utf-8")
        assert not inline.search(text), (script.name, inline.search(text))


def test_every_module_import_names_a_served_file() -> None:
    for script in web.STATIC_DIR.glob("*.js"):
        for target in re.findall(r'from "\./([\w.-]+)"', script.read_text(encoding="utf-8")):
            assert (web.STATIC_DIR / target).is_file(), (script.name, target)
