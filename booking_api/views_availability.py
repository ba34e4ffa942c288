"""An agent's weekly timetable and absences over HTTP.

An agent edits their own (``/agents/me/...`` or their id); an administrator edits the
agents of their organisation. Another organisation's agents do not exist (404).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from booking_api import availability
from booking_api.auth import User, require_user
from booking_api.context import context_of
from booking_api.errors import forbidden, json_body, not_found
from booking_api.validation import raise_if

routes = web.RouteTableDef()


async def _agent_of(request: web.Request, user: User) -> dict[str, Any]:
    """The agent the path names, if this user may manage their availability."""
    agent_id = request.match_info["agent_id"]
    if agent_id == "me":
        agent_id = user.id
    row = await context_of(request).database.fetch_one(
        "SELECT id, name, service_id, organisation_id FROM users "
        "WHERE id = ? AND role = 'agent' AND active = 1",
        agent_id,
    )
    if row is None or row["organisation_id"] != user.organisation_id:
        raise not_found("Conseiller introuvable.")
    if user.role == "agent" and row["id"] != user.id:
        raise forbidden("Vous ne pouvez modifier que vos propres disponibilités.")
    return row


async def _view(request: web.Request, agent: dict[str, Any]) -> dict[str, Any]:
    db = context_of(request).database
    now = datetime.now(UTC)
    rules = await availability.read_rules(db, agent["id"])
    return {
        "agent": {"id": agent["id"], "name": agent["name"], "service_id": agent["service_id"]},
        "timezone": "Europe/Paris",
        "rules": [r.public() for r in rules],
        "absences": await availability.read_absences(db, agent["id"], now.timestamp()),
        "available_now": bool(agent["service_id"])
        and await availability.is_available(db, agent["service_id"], agent["id"], now),
    }


@routes.get("/agents/{agent_id}/availability")
async def show(request: web.Request) -> web.Response:
    user = await require_user(request, "agent", "admin")
    return web.json_response(await _view(request, await _agent_of(request, user)))


@routes.put("/agents/{agent_id}/availability")
async def replace_rules(request: web.Request) -> web.Response:
    """Replace the whole weekly timetable (``rules``: weekday 0-6, ``start``/``end`` HH:MM)."""
    user = await require_user(request, "agent", "admin")
    agent = await _agent_of(request, user)
    body = await json_body(request)
    errors: dict[str, str] = {}
    rules = availability.parse_rules(body.get("rules"), errors)
    raise_if(errors)
    ctx = context_of(request)
    await availability.replace_rules(ctx.database, agent["id"], rules)
    await ctx.queue_hub.notify()  # who may take a waiting call may have changed
    return web.json_response(await _view(request, agent))


@routes.post("/agents/{agent_id}/absences")
async def add_absence(request: web.Request) -> web.Response:
    """Add an absence (leave, training, holiday); lists appointments it overlaps."""
    user = await require_user(request, "agent", "admin")
    agent = await _agent_of(request, user)
    body = await json_body(request)
    errors: dict[str, str] = {}
    absence = availability.parse_absence(body, errors, datetime.now(UTC))
    raise_if(errors)
    assert absence is not None
    ctx = context_of(request)
    created = await availability.add_absence(ctx.database, agent["id"], absence)
    conflicts = await availability.appointments_during(ctx.database, agent["id"], absence)
    await ctx.queue_hub.notify()
    return web.json_response(created | {"conflicts": conflicts}, status=201)


@routes.delete("/agents/{agent_id}/absences/{absence_id}")
async def remove_absence(request: web.Request) -> web.Response:
    user = await require_user(request, "agent", "admin")
    agent = await _agent_of(request, user)
    ctx = context_of(request)
    absence_id = request.match_info["absence_id"]
    if not await availability.delete_absence(ctx.database, agent["id"], absence_id):
        raise not_found("Absence introuvable.")
    await ctx.queue_hub.notify()
    return web.json_response({"id": absence_id, "deleted": True})
