"""``/j/{code}``: a short link from an SMS opens the join or manage page it stands for."""

from __future__ import annotations

from aiohttp import web

from booking_api import short_links
from booking_api.context import context_of
from booking_api.errors import not_found

routes = web.RouteTableDef()


@routes.get("/j/{code}")
async def open_short_link(request: web.Request) -> web.Response:
    target = await short_links.resolve(context_of(request).database, request.match_info["code"])
    if target is None:
        raise not_found("Lien inconnu ou expiré.")
    # The target carries its secret in the fragment: no cache keeps the answer, and the
    # page it opens is not told where the visitor came from.
    raise web.HTTPSeeOther(
        target, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
