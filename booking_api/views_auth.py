"""Staff sign-in: session cookie plus a CSRF token for the page to echo back."""

from __future__ import annotations

from aiohttp import web

from booking_api import auth
from booking_api.api_requests import Login
from booking_api.client_address import client_address
from booking_api.context import context_of
from booking_api.errors import json_body, unauthorised
from booking_api.field_errors import read

routes = web.RouteTableDef()


@routes.post("/auth/login")
async def login(request: web.Request) -> web.Response:
    ctx = context_of(request)
    body = await json_body(request)
    credentials = read(Login, body)
    email, password = credentials.email, credentials.password
    user, token = await auth.login(
        ctx, email, password, client_address(request, ctx.config.trusted_proxies)
    )
    response = web.json_response({"user": user.public(), "csrf_token": user.csrf_token})
    auth.set_session_cookie(ctx, response, token)
    return response


@routes.post("/auth/logout")
async def logout(request: web.Request) -> web.Response:
    await auth.require_user(request)
    await auth.logout(request)
    response = web.json_response({"ok": True})
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    return response


@routes.get("/auth/me")
async def me(request: web.Request) -> web.Response:
    user = await auth.session_user(request)
    if user is None:
        raise unauthorised()
    return web.json_response({"user": user.public(), "csrf_token": user.csrf_token})
