"""An address that names nothing: a page a person can read, with a way home, under the
same security headers as every page; JSON under /api/, where clients read codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from visioguichet.app import build_app
from visioguichet.settings import Settings


async def test_unknown_page_gets_a_readable_not_found_page(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    client = await aiohttp_client(build_app(Settings(data_dir=tmp_path)))
    for path in ("/no-such-page", "/call/extra", "/manage/x/y"):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "Content-Security-Policy" in response.headers
        text = await response.text()
        assert "<h1" in text and "Page introuvable" in text
        assert 'href="/"' in text and "<!--#include" not in text
        assert "404: Not Found" not in text


async def test_unknown_api_address_gets_a_json_error(aiohttp_client: Any, tmp_path: Path) -> None:
    client = await aiohttp_client(build_app(Settings(data_dir=tmp_path)))
    response = await client.get("/api/no-such-thing")
    assert response.status == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert (await response.json())["error"] == "not-found"
    known = await client.get("/api/services")
    assert known.status == 200
