"""An agent's weekly timetable and absences over HTTP.

An agent edits their own (``/agents/me/...`` or their id); an administrator edits the
agents of their organisation. Another organisation's agents do not exist (404).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from booking_api import availability
from booking_api.api_requests import NewAbsence, WeeklyRule, WeeklyRules
from booking_api.auth import User, require_user
from booking_api.context import context_of
from booking_api.errors import forbidden, json_body, not_found
from booking_api.field_errors import FieldErrors, read

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


def _sound_rules(value: Any) -> dict[int, availability.Rule]:
    """The ranges of the request that are right on their own, by their index."""
    sound: dict[int, availability.Rule] = {}
    for index, item in enumerate(value if isinstance(value, list) else []):
        try:
            rule = WeeklyRule.model_validate(item)
        except ValidationError:
            continue
        sound[index] = availability.Rule(rule.weekday, rule.start, rule.end)
    return sound


@routes.put("/agents/{agent_id}/availability")
async def replace_rules(request: web.Request) -> web.Response:
    """Replace the whole weekly timetable (``rules``: weekday 0-6, ``start``/``end`` HH:MM)."""
    user = await require_user(request, "agent", "admin")
    agent = await _agent_of(request, user)
    body = await json_body(request)
    errors = FieldErrors()
    errors.read(WeeklyRules, body)
    # Overlaps are told among the ranges that are right on their own, beside the errors.
    rules = _sound_rules(body.get("rules"))
    for index, message in availability.overlaps(rules).items():
        errors.add(f"rules.{index}.start", "overlap", message)
    errors.raise_if_any()
    ordered = availability.in_week_order(list(rules.values()))
    ctx = context_of(request)
    await availability.replace_rules(ctx.database, agent["id"], ordered)
    await ctx.queue_hub.notify()  # who may take a waiting call may have changed
    return web.json_response(await _view(request, agent))


@routes.post("/agents/{agent_id}/absences")
async def add_absence(request: web.Request) -> web.Response:
    """Add an absence (leave, training, holiday); lists appointments it overlaps."""
    user = await require_user(request, "agent", "admin")
    agent = await _agent_of(request, user)
    body = await json_body(request)
    asked = read(NewAbsence, body, now=datetime.now(UTC))
    absence = availability.NewAbsence(
        asked.start.astimezone(UTC), asked.end.astimezone(UTC), asked.reason or ""
    )
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
