"""What the service shows a browser and the network: a strict Content-Security-Policy
and the other protective headers on every page, camera and microphone for the call page
only, a 405 that names the allowed methods, and /metrics kept off the public side."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

import web
from tests.support.server import RunningService

pytestmark = pytest.mark.timeout(120)


def fetch(
    service: RunningService, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(service.base_url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def directives(policy: str) -> dict[str, str]:
    return {
        name: value.strip()
        for name, _, value in (part.strip().partition(" ") for part in policy.split(";"))
    }


@pytest.mark.parametrize("path", sorted(web.PAGES))
def test_every_page_carries_a_strict_policy(service: RunningService, path: str) -> None:
    status, headers, _ = fetch(service, path)
    assert status == 200
    policy = directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    permissions = headers["Permissions-Policy"]
    if path == "/call":
        assert "camera=(self)" in permissions and "microphone=(self)" in permissions
        assert "display-capture=(self)" in permissions
    else:
        assert "camera=()" in permissions and "microphone=()" in permissions
        assert "display-capture=()" in permissions


def test_api_answers_and_errors_carry_the_headers_too(service: RunningService) -> None:
    for path in ("/api/services", "/api/no-such-thing", "/no-such-page"):
        _, headers, _ = fetch(service, path)
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/auth/login", "POST"),
        ("GET", "/api/auth/login", "POST"),
        ("DELETE", "/api/services", "GET"),
        ("POST", "/healthz", "GET"),
        ("POST", "/agent", "GET"),
    ],
)
def test_a_wrong_method_gets_405_naming_the_allowed_ones(
    service: RunningService, method: str, path: str, allowed: str
) -> None:
    status, headers, _ = fetch(service, path, method)
    assert status == 405
    assert allowed in {m.strip() for m in headers["Allow"].split(",")}


def test_metrics_answer_a_local_scraper_but_nothing_through_a_proxy(
    service: RunningService,
) -> None:
    status, _, text = fetch(service, "/metrics")
    assert status == 200 and "visioguichet_sfu_" in text
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
        status, _, text = fetch(service, "/metrics", headers={header: "203.0.113.9"})
        assert status == 403, header
        assert "visioguichet_" not in text
