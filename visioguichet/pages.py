"""The web pages as served: each page file with its shared parts included.

Nine pages share one header and footer, and two consoles one availability form; each
part is one file in ``web/static/partials``, included where a page says
``<!--#include file="header.html" -->``, so the pages stay complete HTML without
JavaScript (the header's and footer's links work with scripts off). A part may take
parameters: ``<!--#include file="availability.html" level="3" -->`` fills
``{{level}}`` in it. Pages are assembled once, when the application is built; what
changes while the service runs (the operator's name, logo and colour in the header and
footer, the legal pages' texts) is filled in on each request by a ``PageFiller``.

An address that names nothing gets a page a person can read (``not-found.html``, with a
way home), or a JSON error under ``/api/`` where clients read codes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

import web as web_pages

PARTIALS = "partials"
NOT_FOUND_PAGE = "not-found.html"
API_PREFIX = "/api/"
_INCLUDE = re.compile(
    r'^(?P<indent>[ \t]*)<!--#include file="(?P<file>[\w.-]+)"(?P<params>(?:\s+\w+="[^"]*")*)'
    r"\s*-->",
    re.MULTILINE,
)
_LEADING_COMMENT = re.compile(r"\A<!--.*?-->\n", re.DOTALL)
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


class PageError(ValueError):
    """A page names a part that does not exist or leaves a parameter unfilled."""


def _fill(part: str, params: Mapping[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params:
            raise PageError(f"{where}: no value for {{{{{name}}}}}")
        return params[name]

    return _PLACEHOLDER.sub(value, part)


def assemble(page: Path) -> str:
    """The page's text with every include replaced by its part, indented as the include
    and without the part's leading comment (parts include nothing)."""
    partials = page.parent / PARTIALS

    def include(match: re.Match[str]) -> str:
        part_path = partials / match.group("file")
        if not part_path.is_file():
            raise PageError(f"{page.name}: no part {match.group('file')!r} in {partials}")
        params = dict(_PARAM.findall(match.group("params")))
        part = _LEADING_COMMENT.sub("", part_path.read_text(encoding="utf-8")).rstrip("\n")
        part = _fill(part, params, f"{page.name} including {part_path.name}")
        indent = match.group("indent")
        return "\n".join(indent + line if line else line for line in part.split("\n"))

    return _INCLUDE.sub(include, page.read_text(encoding="utf-8"))


class PageFiller(Protocol):
    """Fills what changes while the service runs (the operator's identity) into an
    assembled page, on each request (``visioguichet.operator_pages``)."""

    async def fill(self, page: str, path: str) -> str: ...


@dataclass(frozen=True, slots=True)
class AssembledPage:
    text: str
    filler: PageFiller | None = None

    async def body(self, path: str) -> tuple[bytes, str]:
        """The page as served at ``path``, and its ETag."""
        text = await self.filler.fill(self.text, path) if self.filler else self.text
        body = text.encode("utf-8")
        return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _page_handler(page: AssembledPage) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def serve_page(request: web.Request) -> web.StreamResponse:
        body, etag = await page.body(request.path)
        headers = {"Cache-Control": "no-cache", "ETag": etag}
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="text/html", charset="utf-8", headers=headers)

    return serve_page


def _assembled(page: Path, filler: PageFiller | None = None) -> AssembledPage:
    return AssembledPage(assemble(page), filler)


def _not_found_middleware(page: AssembledPage) -> Middleware:
    """A 404 no handler answered itself: the not-found page, or JSON under ``/api/``
    (an unknown path there never reaches the booking API's own error handling)."""

    @web.middleware
    async def not_found(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPNotFound:
            if request.path.startswith(API_PREFIX) or request.path == API_PREFIX.rstrip("/"):
                return web.json_response(
                    {"error": "not-found", "message": "Adresse inconnue."}, status=404
                )
            if request.method not in ("GET", "HEAD"):
                raise
            body, _etag = await page.body(request.path)
            return web.Response(
                status=404,
                body=body,
                content_type="text/html",
                charset="utf-8",
                headers={"Cache-Control": "no-cache"},
            )

    return not_found


def add_web_pages(app: web.Application, filler: PageFiller | None = None) -> None:
    """Every page at its path, assembled now and filled by ``filler`` on each request;
    the static assets under ``/static/``; the not-found page for any other address."""
    static_dir = Path(web_pages.STATIC_DIR)
    for url_path, file_name in web_pages.PAGES.items():
        app.router.add_get(url_path, _page_handler(_assembled(static_dir / file_name, filler)))
    app.router.add_static("/static/", static_dir, append_version=True)
    not_found = _assembled(static_dir / NOT_FOUND_PAGE, filler)
    app.middlewares.append(_not_found_middleware(not_found))
