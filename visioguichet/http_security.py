"""Response headers every page and API answer carries, and who may read ``/metrics``.

The pages load only same-origin module scripts and one stylesheet, with no inline
script, style or event handler, so the Content-Security-Policy can refuse everything
else: an injected ``<script>`` or ``style=`` does nothing, nor does a foreign frame.
Camera, microphone and screen capture are allowed to the call page only (its pre-call
check runs inside it); every other page has them switched off.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        # 'self' covers ws:/wss: to this same host (CSP Level 3): the signalling socket.
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

MEDIA_PAGES = frozenset({"/call"})
PERMISSIONS_MEDIA = "camera=(self), microphone=(self), display-capture=(self), geolocation=()"
PERMISSIONS_NONE = "camera=(), microphone=(), display-capture=(), geolocation=()"

# Headers a reverse proxy adds; their presence means the request did not come from a
# process on this machine, whatever the (proxy's) loopback peer says.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def permissions_policy(path: str) -> str:
    return PERMISSIONS_MEDIA if path in MEDIA_PAGES else PERMISSIONS_NONE


@web.middleware
async def security_headers(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # 404, 405… get the same headers
        _add_headers(request, exc)
        raise
    _add_headers(request, response)
    return response


def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    if response.prepared:  # a WebSocket or event stream already sent its headers
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Permissions-Policy", permissions_policy(request.path))


def _is_loopback(peer: str | None) -> bool:
    try:
        return peer is not None and ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


def check_metrics_access(request: web.Request, token: str | None) -> None:
    """``/metrics`` tells how many calls run and how they fare: with ``--metrics-token``
    it needs ``Authorization: Bearer <token>`` from anyone; without, it answers only a
    process on this machine talking directly (loopback peer, no proxy's headers)."""
    if token:
        sent = request.headers.get("Authorization", "")
        scheme, _, value = sent.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.strip().encode(), token.encode()
        ):
            raise web.HTTPUnauthorized(
                text="/metrics needs Authorization: Bearer <metrics token>\n",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        return
    if not _is_loopback(request.remote) or any(h in request.headers for h in FORWARDING_HEADERS):
        raise web.HTTPForbidden(
            text="/metrics answers only on loopback unless --metrics-token is set\n"
        )
