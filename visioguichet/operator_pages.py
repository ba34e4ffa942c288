"""The operator on every page: the header's brand block, the footer's links and the
operator's colour, filled into the assembled pages on each request, and the legal pages.

Pages are assembled once (``pages.assemble``), but the operator's identity changes when
an administrator edits it, so the parts that show it are markers the assembled page
keeps (``<!--#operator-brand-->`` in the header, ``<!--#operator-footer-->`` in the
footer, ``<!--#legal-title-->`` and ``<!--#legal-content-->`` in ``legal.html``) and are
replaced here. Everything that comes from the identity is escaped; the legal pages'
content comes already escaped from ``booking_api``. The colour reaches the page as a
stylesheet of its own (``/site.css``): the Content-Security-Policy allows no inline
style, and should not.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

import booking_api
import web as web_pages

BRAND = "<!--#operator-brand-->"
FOOTER = "<!--#operator-footer-->"
LEGAL_TITLE = "<!--#legal-title-->"
LEGAL_CONTENT = "<!--#legal-content-->"
MARKERS = (BRAND, FOOTER, LEGAL_TITLE, LEGAL_CONTENT)
TITLE_END = " — Visioguichet</title>"
MEASURE_FILE = "accessibility-measure.json"
"""What the project's axe run measured (``tests/web/accessibility_measure.py`` writes it)."""

LEGAL_URLS = {f"/{slug}": slug for slug in booking_api.LEGAL_PAGES}


def load_measure(static_dir: Path = Path(web_pages.STATIC_DIR)) -> dict[str, Any] | None:
    try:
        measure: dict[str, Any] = json.loads((static_dir / MEASURE_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return measure


def _darker(colour: str, factor: float = 0.75) -> str:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "#" + "".join(f"{int(c * factor):02x}" for c in (r, g, b))


def site_css(identity: booking_api.SiteIdentity) -> str:
    """The operator's colour as the theme's custom properties (checked #rrggbb only)."""
    return f":root {{ --brand: {identity.colour}; --brand-dark: {_darker(identity.colour)}; }}\n"


def brand_html(identity: booking_api.SiteIdentity) -> str:
    """The header's brand block: the State's block when entitled, the operator's logo,
    the operator's name and what the site is for, all one link home."""
    parts = ['<a class="brand" href="/">']
    if identity.state_marks:
        parts.append(
            '<span class="state-block" lang="fr"><span class="state-name">République'
            '<br>française</span><span class="state-motto">Liberté<br>Égalité<br>'
            "Fraternité</span></span>"
        )
    if identity.logo_png:
        # The name follows as text: the logo's own alternative only if it says more.
        alt = "" if identity.logo_alt == identity.name else identity.logo_alt
        parts.append(
            f'<img class="operator-logo" src="/api/site/logo?v={identity.revision}" '
            f'alt="{html.escape(alt, quote=True)}">'
        )
    parts.append(
        f'<span class="brand-text"><span class="operator-name">{html.escape(identity.name)}'
        '</span><span class="brand-tagline" data-i18n="site.tagline">Rendez-vous en visio '
        "avec un agent</span></span></a>"
    )
    return "".join(parts)


def footer_html(identity: booking_api.SiteIdentity) -> str:
    status = identity.accessibility_status
    return (
        f'<p class="footer-operator">{html.escape(identity.name)}</p>\n'
        '<ul class="footer-links">'
        '<li><a href="/mentions-legales" data-i18n="site.legal">Mentions légales</a></li>'
        '<li><a href="/donnees-personnelles" data-i18n="site.privacy">Données personnelles'
        "</a></li>"
        f'<li><a href="/accessibilite" data-i18n="site.a11y.{status}">Accessibilité : '
        f"{html.escape(identity.accessibility_label)}</a></li></ul>"
    )


class OperatorPages:
    """Fills the operator's markers of an assembled page on each request."""

    def __init__(self, site: booking_api.OperatorSite, measure: Mapping[str, Any] | None):
        self._site = site
        self._measure = measure

    async def fill(self, page: str, path: str) -> str:
        if not any(marker in page for marker in MARKERS):
            return page
        identity = await self._site.identity()
        page = page.replace(
            "</head>",
            f'<link rel="stylesheet" href="/site.css?v={identity.revision}">\n</head>',
            1,
        )
        page = page.replace(BRAND, brand_html(identity)).replace(FOOTER, footer_html(identity))
        # The tab and the history name the operator too (every page's title ends so).
        page = page.replace(TITLE_END, f" — {html.escape(identity.name)}</title>", 1)
        slug = LEGAL_URLS.get(path)
        if slug is not None:
            title, content = await self._site.legal_page(slug, self._measure)
            page = page.replace(LEGAL_TITLE, html.escape(title))
            page = page.replace(LEGAL_CONTENT, content)
        return page

    async def stylesheet(self, request: web.Request) -> web.Response:
        identity = await self._site.identity()
        return web.Response(
            text=site_css(identity),
            content_type="text/css",
            charset="utf-8",
            headers={"Cache-Control": "no-cache"},
        )
