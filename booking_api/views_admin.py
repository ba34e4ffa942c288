"""Administration of one's own organisation over HTTP: services and motifs, agents,
partner points and their staff accounts. Administrators only."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from booking_api import management
from booking_api.auth import User, require_user
from booking_api.context import context_of
from booking_api.db import Database
from booking_api.errors import ApiError, json_body
from booking_api.validation import raise_if

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
    errors: dict[str, str] = {}
    name = management.parse_service(await json_body(request), errors)
    raise_if(errors)
    assert name is not None
    return web.json_response(await management.create_service(db, org, name), status=201)


@routes.patch("/admin/services/{service_id}")
async def rename_service(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    service = await management.service_of_organisation(db, request.match_info["service_id"], org)
    errors: dict[str, str] = {}
    name = management.parse_service(await json_body(request), errors)
    raise_if(errors)
    assert name is not None
    await management.rename_service(db, service["id"], name)
    return web.json_response({"id": service["id"], "name": name})


@routes.post("/admin/services/{service_id}/motifs")
async def create_motif(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    service = await management.service_of_organisation(db, request.match_info["service_id"], org)
    errors: dict[str, str] = {}
    values = management.parse_motif(await json_body(request), errors, partial=False)
    raise_if(errors)
    return web.json_response(await management.create_motif(db, service["id"], values), status=201)


@routes.patch("/admin/motifs/{motif_id}")
async def update_motif(request: web.Request) -> web.Response:
    """Change any field; ``active: false`` withdraws the motif from booking."""
    _user, org, db = await _admin(request)
    motif = await management.motif_of_organisation(db, request.match_info["motif_id"], org)
    errors: dict[str, str] = {}
    values = management.parse_motif(await json_body(request), errors, partial=True)
    raise_if(errors)
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
    body = await json_body(request)
    errors: dict[str, str] = {}
    account = management.parse_new_account(body, errors)
    service_id = body.get("service_id")
    if not isinstance(service_id, str) or not service_id:
        errors["service_id"] = "Choisissez le service du conseiller."
    raise_if(errors)
    assert isinstance(service_id, str)
    try:
        await management.service_of_organisation(db, service_id, org)
    except ApiError as exc:
        raise ApiError(
            422, "validation", "Service inconnu.", {"service_id": "Service inconnu."}
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
    errors: dict[str, str] = {}
    changes = management.parse_account_change(await json_body(request), errors)
    if changes["service_id"] is not None:
        row = await db.fetch_one(
            "SELECT id FROM services WHERE id = ? AND organisation_id = ?",
            changes["service_id"],
            org,
        )
        if row is None:
            errors["service_id"] = "Service inconnu."
    raise_if(errors)
    await management.update_account(db, agent["id"], **changes)
    if changes["active"] is not None:
        await context_of(request).queue_hub.notify()
    return web.json_response(
        await management.account_of_organisation(db, agent["id"], org, "agent")
    )


# --- partner points and their staff -------------------------------------------------


@routes.get("/admin/partner-points")
async def partner_points(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    return web.json_response({"partner_points": await management.list_partner_points(db, org)})


@routes.post("/admin/partner-points")
async def create_partner_point(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    errors: dict[str, str] = {}
    values = management.parse_partner_point(await json_body(request), errors, partial=False)
    raise_if(errors)
    return web.json_response(await management.create_partner_point(db, org, values), status=201)


@routes.patch("/admin/partner-points/{point_id}")
async def update_partner_point(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    point = await management.point_of_organisation(db, request.match_info["point_id"], org)
    errors: dict[str, str] = {}
    values = management.parse_partner_point(await json_body(request), errors, partial=True)
    raise_if(errors)
    await management.update_partner_point(db, point["id"], values)
    updated = await management.point_of_organisation(db, point["id"], org)
    return web.json_response(dict(updated))


@routes.post("/admin/partner-points/{point_id}/staff")
async def create_partner_staff(request: web.Request) -> web.Response:
    _user, org, db = await _admin(request)
    point = await management.point_of_organisation(db, request.match_info["point_id"], org)
    errors: dict[str, str] = {}
    account = management.parse_new_account(await json_body(request), errors)
    raise_if(errors)
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
    errors: dict[str, str] = {}
    changes = management.parse_account_change(body, errors)
    if "service_id" in body:
        errors["service_id"] = "Un compte d’accueil n’a pas de service."
    raise_if(errors)
    await management.update_account(db, account["id"], **changes)
    return web.json_response(
        await management.account_of_organisation(db, account["id"], org, "partner")
    )
