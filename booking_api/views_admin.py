"""Administration of one's own organisation over HTTP: services and motifs, agents,
partner points and their staff accounts. Administrators only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from booking_api import management
from booking_api.api_requests import (
    AccountChange,
    AgentChange,
    MotifChange,
    NewAccount,
    NewAgent,
    NewMotif,
    NewPartnerPoint,
    PartnerPointChange,
    ServiceName,
)
from booking_api.auth import User, require_user
from booking_api.context import context_of
from booking_api.db import Database
from booking_api.errors import ApiError, json_body
from booking_api.field_errors import FieldErrors, read

routes = web.RouteTableDef()


async def _admin(request: web.Request) -> tuple[User, str, Database]:
    user = await require_user(request, "admin")
    if not user.organisation_id:
        raise ApiError(409, "no-organisation", "Votre compte n’est rattaché à aucun organisme.")
    return user, user.organisation_id, context_of(request).database


# --- services and motifs ----------------------------------------------------------


@routes.get("/admin/services")
async def services(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    return web.json_response({"services": await management.list_services(db, org)})


@routes.post("/admin/services")
async def create_service(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    name = read(ServiceName, await json_body(request)).name
    return web.json_response(await management.create_service(db, org, name), status=201)


@routes.patch("/admin/services/{service_id}")
async def rename_service(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    service = await management.service_of_organisation(db, request.match_info["service_id"], org)
    name = read(ServiceName, await json_body(request)).name
    await management.rename_service(db, service["id"], name)
    return web.json_response({"id": service["id"], "name": name})


@routes.post("/admin/services/{service_id}/motifs")
async def create_motif(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    service = await management.service_of_organisation(db, request.match_info["service_id"], org)
    values = read(NewMotif, await json_body(request)).values()
    return web.json_response(await management.create_motif(db, service["id"], values), status=201)


@routes.patch("/admin/motifs/{motif_id}")
async def update_motif(request: web.Request) -> web.Response:
    """Change any field; ``active: false`` withdraws the motif from booking."""
    _user, org, db = await _admin(request)
    motif = await management.motif_of_organisation(db, request.match_info["motif_id"], org)
    values = read(MotifChange, await json_body(request)).values()
    return web.json_response(await management.update_motif(db, motif["id"], values))


# --- agents -----------------------------------------------------------------------


@routes.get("/admin/agents")
async def agents(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    return web.json_response({"agents": await management.list_agents(db, org)})


@routes.post("/admin/agents")
async def create_agent(request: web.Request) -> web.Response:
    """A new agent of one of the organisation's services, with weekday office hours."""
    _user, org, db = await _admin(request)
    agent = read(NewAgent, await json_body(request))
    service_id = agent.service_id
    account = agent.model_dump(include={"name", "email", "password"})
    try:
        await management.service_of_organisation(db, service_id, org)
    except ApiError as exc:
        raise ApiError(
            422,
            "validation",
            "Service inconnu.",
            {"service_id": "Service inconnu."},
            codes={"service_id": "unknown"},
        ) from exc
    created = await management.create_account(db, org, account, role="agent", service_id=service_id)
    return web.json_response(created, status=201)


@routes.patch("/admin/agents/{user_id}")
async def update_agent(request: web.Request) -> web.Response:
    """Rename, move to another service, deactivate (``active: false``) or reactivate."""
    _user, org, db = await _admin(request)
    agent = await management.account_of_organisation(
        db, request.match_info["user_id"], org, "agent"
    )
    errors = FieldErrors()
    change = errors.read(AgentChange, await json_body(request))
    changes = _account_changes(change)
    if changes["service_id"] is not None:
        row = await db.fetch_one(
            "SELECT id FROM services WHERE id = ? AND organisation_id = ?",
            changes["service_id"],
            org,
        )
        if row is None:
            errors.add("service_id", "unknown", "Service inconnu.")
    errors.raise_if_any()
    await management.update_account(db, agent["id"], **changes)
    if changes["active"] is not None:
        await context_of(request).queue_hub.notify()
    return web.json_response(
        await management.account_of_organisation(db, agent["id"], org, "agent")
    )


def _account_changes(change: AccountChange | None) -> dict[str, Any]:
    """What ``management.update_account`` changes: ``None`` keeps a value."""
    given = change.model_fields_set if change else set()
    return {
        "name": change.name if change and "name" in given else None,
        "active": change.active if change and "active" in given else None,
        "service_id": getattr(change, "service_id", None) if change else None,
    }


# --- partner points and their staff -------------------------------------------------


@routes.get("/admin/partner-points")
async def partner_points(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    return web.json_response({"partner_points": await management.list_partner_points(db, org)})


@routes.post("/admin/partner-points")
async def create_partner_point(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    values = read(NewPartnerPoint, await json_body(request)).values()
    return web.json_response(await management.create_partner_point(db, org, values), status=201)


@routes.patch("/admin/partner-points/{point_id}")
async def update_partner_point(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    point = await management.point_of_organisation(db, request.match_info["point_id"], org)
    values = read(PartnerPointChange, await json_body(request)).values()
    await management.update_partner_point(db, point["id"], values)
    updated = await management.point_of_organisation(db, point["id"], org)
    return web.json_response(dict(updated))


@routes.post("/admin/partner-points/{point_id}/staff")
async def create_partner_staff(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    point = await management.point_of_organisation(db, request.match_info["point_id"], org)
    account = read(NewAccount, await json_body(request)).model_dump()
    created = await management.create_account(
        db, org, account, role="partner", partner_point_id=point["id"]
    )
    return web.json_response(created, status=201)


@routes.patch("/admin/partner-points/{point_id}/staff/{user_id}")
async def update_partner_staff(request: web.Request) -> web.Response:
    """Rename or deactivate (``active: false``) a staff account of the point."""
    _user, org, db = await _admin(request)
    point = await management.point_of_organisation(db, request.match_info["point_id"], org)
    account = await management.account_of_organisation(
        db, request.match_info["user_id"], org, "partner"
    )
    if account["partner_point_id"] != point["id"]:
        raise ApiError(404, "not-found", "Compte introuvable.")
    body: dict[str, Any] = await json_body(request)
    errors = FieldErrors()
    changes = _account_changes(errors.read(AccountChange, body))
    if "service_id" in body:
        errors.add("service_id", "not-allowed", "Un compte d’accueil n’a pas de service.")
    errors.raise_if_any()
    await management.update_account(db, account["id"], **changes)
    return web.json_response(
        await management.account_of_organisation(db, account["id"], org, "partner")
    )
