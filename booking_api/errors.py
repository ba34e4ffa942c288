"""JSON errors for every failure of the booking API, never an HTML page or a traceback."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)


class ApiError(Exception):
    """An error the client can act on: HTTP status, stable code, French message, and
    per field a French message (``fields``, path -> message) and the same with a machine
    code (``field_errors``) that the pages translate. A field without a code of its own
    carries the error's code (``invalid`` for a validation error)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        *,
        codes: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
        self.codes = codes or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.fields is not None:
            body["fields"] = self.fields
            fallback = "invalid" if self.code == VALIDATION else self.code
            body["field_errors"] = [
                {"field": field, "code": self.codes.get(field, fallback), "message": message}
                for field, message in self.fields.items()
            ]
        return body


VALIDATION = "validation"


class ValidationFailed(ApiError):
    def __init__(
        self,
        fields: dict[str, str],
        message: str = "Certaines informations sont invalides.",
        *,
        codes: dict[str, str] | None = None,
    ) -> None:
        super().__init__(422, VALIDATION, message, fields, codes=codes)


def not_found(message: str = "Ressource introuvable.") -> ApiError:
    return ApiError(404, "not-found", message)


def forbidden(message: str = "Accès refusé.") -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorised(message: str = "Connexion requise.") -> ApiError:
    return ApiError(401, "unauthorised", message)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 400 that says why not."""
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "bad-request", "Le corps de la requête doit être du JSON.") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "bad-request", "Le corps de la requête doit être un objet JSON.")
    return body


_HTTP_CODES = {
    400: "bad-request",
    401: "unauthorised",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    413: "too-large",
}


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.body(), status=exc.status, headers=exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http-error")
        # A 405 must say which methods the resource has (RFC 9110 §15.5.6).
        kept = {name: exc.headers[name] for name in ("Allow",) if name in exc.headers}
        return web.json_response(
            {"error": code, "message": exc.reason}, status=exc.status, headers=kept or None
        )
    except Exception:
        log.exception("booking_api_unhandled_error", method=request.method)
        return web.json_response(
            {"error": "internal", "message": "Erreur interne, veuillez réessayer."}, status=500
        )
