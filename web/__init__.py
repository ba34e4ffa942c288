"""The citizen, agent, partner and admin web pages: static files served by the app.

Plain HTML, CSS and JavaScript modules with no build step, so the service can serve
them as package data and nothing is ever fetched from a third-party origin. What
several pages share (header, footer, the availability form) is one file in
``static/partials``, which the server includes into each page (``visioguichet/pages.py``).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR: Path = Path(__file__).parent / "static"
"""Served at ``/static/``."""

PAGES: dict[str, str] = {
    "/": "index.html",
    "/book": "book.html",
    "/manage": "manage.html",
    "/call": "call.html",
    "/agent": "agent.html",
    "/agent/login": "login.html",
    "/partner": "partner.html",
    "/admin": "admin.html",
    "/survey": "survey.html",
    "/mentions-legales": "legal.html",
    "/donnees-personnelles": "legal.html",
    "/accessibilite": "legal.html",
}
"""URL path → HTML file name in ``STATIC_DIR``."""
