"""The pages' shared parts (header, footer, availability form) are one file each, put
into every page by the server: complete HTML without JavaScript."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import web
from visioguichet.app import build_app
from visioguichet.pages import PageError, assemble
from visioguichet.settings import Settings

PARTS = web.STATIC_DIR / "partials"
CONSOLES = ("agent.html", "admin.html")


def part(name: str) -> str:
    """A part's markup as pages carry it (without its leading comment)."""
    return (PARTS / name).read_text(encoding="utf-8").split("-->\n", 1)[-1].strip()


def test_every_page_has_the_one_header_and_the_one_footer() -> None:
    header, footer = part("header.html"), part("footer.html")
    for file_name in web.PAGES.values():
        source = (web.STATIC_DIR / file_name).read_text(encoding="utf-8")
        page = assemble(web.STATIC_DIR / file_name)
        assert '<header class="site">' not in source, f"{file_name} copies the header"
        assert page.count(header) == 1, file_name
        assert page.count(footer) == 1, file_name  # the call page hides it during the call
        assert "<!--#include" not in page and "{{" not in page, file_name


def test_both_consoles_carry_the_one_availability_form_at_their_heading_level() -> None:
    for file_name, sub_heading in zip(CONSOLES, ("h3", "h4"), strict=True):
        source = (web.STATIC_DIR / file_name).read_text(encoding="utf-8")
        page = assemble(web.STATIC_DIR / file_name)
        assert 'id="absence-form"' not in source, f"{file_name} copies the form"
        assert page.count('<form id="absence-form" novalidate>') == 1, file_name
        assert f'<{sub_heading} id="h-rules" data-i18n="avail.rules.h"></{sub_heading}>' in page


def test_a_missing_part_or_parameter_stops_the_start_naming_it(tmp_path: Path) -> None:
    (tmp_path / "partials").mkdir()
    (tmp_path / "partials" / "box.html").write_text("<p>{{word}}</p>\n", encoding="utf-8")
    page = tmp_path / "page.html"
    page.write_text('<main>\n  <!--#include file="box.html" word="hi" -->\n</main>\n')
    assert assemble(page) == "<main>\n  <p>hi</p>\n</main>\n"
    page.write_text('<!--#include file="box.html" -->\n')
    with pytest.raises(PageError, match=r"box.html: no value for \{\{word\}\}"):
        assemble(page)
    page.write_text('<!--#include file="gone.html" -->\n')
    with pytest.raises(PageError, match=r"no part 'gone\.html'"):
        assemble(page)


async def test_served_pages_are_assembled_and_revalidated_by_etag(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await aiohttp_client(build_app(Settings(data_dir=tmp_path)))
    response = await client.get("/agent")
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["Cache-Control"] == "no-cache"
    served = await response.text()
    assert "<!--#" not in served  # the operator's parts are filled in on each request
    assembled = assemble(web.STATIC_DIR / "agent.html")
    assert [line for line in served.splitlines() if line in assembled] == [
        line for line in assembled.splitlines() if "<!--#" not in line
    ]
    again = await client.get("/agent", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert (await client.get("/static/partials/header.html")).status == 200
