"""The operator's identity and legal pages over HTTP: anyone reads the identity and the
logo; administrators change them and the legal pages' texts."""

from __future__ import annotations

import structlog
from aiohttp import web

from booking_api import legal_pages, operator_logo, site_identity
from booking_api.api_requests import LegalTextChange, SiteIdentityChange
from booking_api.auth import require_user
from booking_api.context import BookingContext, context_of
from booking_api.errors import ApiError, ValidationFailed, json_body
from booking_api.field_errors import read

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

# The logo is a picture and nothing else, even opened on its own: no script, no plug-in,
# no frame, whatever a browser might make of its bytes.
LOGO_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; object-src 'none'; sandbox",
    "Content-Disposition": 'inline; filename="logo.png"',
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


async def identity_of(ctx: BookingContext) -> site_identity.SiteIdentity:
    return await ctx.site_identity.current(ctx.database)


@routes.get("/site")
async def get_identity(request: web.Request) -> web.Response:
    return web.json_response((await identity_of(context_of(request))).public())


@routes.get("/site/logo")
async def get_logo(request: web.Request) -> web.Response:
    identity = await identity_of(context_of(request))
    if identity.logo_png is None:
        raise ApiError(404, "not-found", "Pas de logo.")
    etag = f'"logo-{identity.revision}"'
    headers = {**LOGO_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=300"}
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=identity.logo_png, content_type=operator_logo.SERVED_TYPE, headers=headers
    )


async def _changed(request: web.Request, ctx: BookingContext, what: str) -> web.Response:
    ctx.site_identity.forget()
    identity = await identity_of(ctx)
    log.info("site_identity_changed", what=what)
    return web.json_response(identity.public())


@routes.put("/admin/site")
async def change_identity(request: web.Request) -> web.Response:
    await require_user(request, "admin")
    ctx = context_of(request)
    change = read(SiteIdentityChange, await json_body(request))
    columns = change.model_fields_set & {"name", "colour", "logo_alt", "accessibility_status"}
    if columns:
        await site_identity.save_identity(
            ctx.database, {column: getattr(change, column) for column in columns}
        )
    return await _changed(request, ctx, ",".join(sorted(columns)))


@routes.put("/admin/site/logo")
async def change_logo(request: web.Request) -> web.Response:
    """The request's body is the picture itself, whatever its Content-Type says."""
    await require_user(request, "admin")
    ctx = context_of(request)
    try:
        if (request.content_length or 0) > operator_logo.MAX_UPLOAD_BYTES:
            raise operator_logo.too_large()  # not read: the header says enough
        data = await request.read()
        clean = operator_logo.sanitised_logo(data)
    except operator_logo.LogoRefused as exc:
        log.info("logo_refused", code=exc.code, size=request.content_length)
        raise ValidationFailed({"logo": exc.message}, codes={"logo": exc.code}) from exc
    await site_identity.save_identity(ctx.database, {"logo_png": clean})
    return await _changed(request, ctx, "logo")


@routes.delete("/admin/site/logo")
async def remove_logo(request: web.Request) -> web.Response:
    await require_user(request, "admin")
    ctx = context_of(request)
    await site_identity.save_identity(ctx.database, {"logo_png": None})
    return await _changed(request, ctx, "logo")


def _page(request: web.Request) -> legal_pages.LegalPage:
    page = legal_pages.PAGES.get(request.match_info["page"])
    if page is None:
        raise ApiError(404, "not-found", "Page inconnue.")
    return page


async def _legal_answer(ctx: BookingContext, page: legal_pages.LegalPage) -> web.Response:
    stored = (await legal_pages.stored_texts(ctx.database)).get(page.slug)
    identity = await identity_of(ctx)
    return web.json_response(
        {
            "page": page.slug,
            "title": page.title,
            "text": stored
            if stored is not None
            else legal_pages.default_text(page.slug, identity.name),
            "customised": stored is not None,
            "url": f"/{page.slug}",
        }
    )


@routes.get("/admin/legal/{page}")
async def get_legal_text(request: web.Request) -> web.Response:
    await require_user(request, "admin")
    return await _legal_answer(context_of(request), _page(request))


@routes.put("/admin/legal/{page}")
async def change_legal_text(request: web.Request) -> web.Response:
    await require_user(request, "admin")
    page = _page(request)
    ctx = context_of(request)
    change = read(LegalTextChange, await json_body(request))
    await legal_pages.save_text(ctx.database, page.slug, change.text)
    log.info("legal_page_changed", page=page.slug, default=change.text is None)
    return await _legal_answer(ctx, page)
