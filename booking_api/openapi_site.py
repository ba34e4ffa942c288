"""OpenAPI operations of the operator's identity and the legal pages' texts."""

from __future__ import annotations

from typing import Any

from booking_api import api_requests as rq
from booking_api import api_responses as rs
from booking_api import operator_logo
from booking_api.openapi_operations import Operations


def paths(ops: Operations) -> dict[str, Any]:
    staff = ops.errors(401, 403, 404)
    page = ("page",)
    return {
        "/site": {
            "get": ops.op("The operator's name, colour, logo and RGAA level", rs.SiteIdentity)
        },
        "/site/logo": {
            "get": ops.op(
                "The operator's logo: a PNG re-encoded from the upload",
                None,
                answer={
                    "description": "The logo",
                    "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
                },
                errors=ops.errors(404),
            )
        },
        "/admin/site": {
            "put": ops.op(
                "Change the operator's name, colour (4.5:1 on white), logo text or the RGAA "
                "level declared; null goes back to the flags' value",
                rs.SiteIdentity,
                body=rq.SiteIdentityChange,
                errors=staff,
                staff=True,
            )
        },
        "/admin/site/logo": {
            "put": ops.op(
                "Set the logo: the request body is the picture itself, PNG, JPEG or WebP "
                "(sniffed, whatever the Content-Type; "
                f"{operator_logo.MAX_UPLOAD_BYTES // 1024} kB, {operator_logo.MAX_SIDE_PX} px "
                "a side at most; SVG refused: field logo, code svg-refused), stored re-encoded "
                "as PNG",
                rs.SiteIdentity,
                errors=staff | ops.errors(422),
                staff=True,
            ),
            "delete": ops.op(
                "Remove the logo (the --operator-logo one, if any, shows again)",
                rs.SiteIdentity,
                errors=staff,
                staff=True,
            ),
        },
        "/admin/legal/{page}": {
            "get": ops.op(
                "A legal page's text (mentions-legales, donnees-personnelles, accessibilite)",
                rs.LegalText,
                path=page,
                errors=staff,
                staff=True,
            ),
            "put": ops.op(
                "Replace a legal page's text (plain text and three marks, rendered escaped); "
                "null restores the default",
                rs.LegalText,
                path=page,
                body=rq.LegalTextChange,
                errors=staff,
                staff=True,
            ),
        },
    }
