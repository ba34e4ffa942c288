"""OpenAPI description of the management endpoints: agents' availability and absences,
and an administrator's services, motifs, agents and partner points."""

from __future__ import annotations

from typing import Any

_ERR = {
    "description": "Error (JSON, with field messages for 422)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}
_STAFF = {"401": _ERR, "403": _ERR, "404": _ERR}
_WRITE = {**_STAFF, "400": _ERR, "422": _ERR}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    params: tuple[str, ...] | list[str] = (),
    body: dict[str, Any] | None = None,
    status: str = "200",
    errors: dict[str, Any] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {status: ok, **(errors if errors is not None else _STAFF)},
        "security": [{"session": [], "csrf": []}],
    }
    if params:
        op["parameters"] = [_path(p) for p in params]
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return op


_HHMM = {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$", "examples": ["09:00"]}
_ID = {"type": "string"}
_TEXT = {"type": "string", "minLength": 1, "maxLength": 200}
_CHANNELS = {
    "type": "array",
    "minItems": 1,
    "uniqueItems": True,
    "items": {"enum": ["video", "phone", "in-person"]},
}
_MOTIF_FIELDS: dict[str, Any] = {
    "label": _TEXT,
    "duration_min": {"type": "integer", "minimum": 5, "maximum": 480, "multipleOf": 5},
    "channels": _CHANNELS,
    "notice_min": {"type": "integer", "minimum": 0, "maximum": 86400, "multipleOf": 5},
    "horizon_days": {"type": "integer", "minimum": 1, "maximum": 365},
    "buffer_min": {"type": "integer", "minimum": 0, "maximum": 240, "multipleOf": 5},
    "needs_review": {"type": "boolean"},
    "active": {"type": "boolean"},
}

SCHEMAS: dict[str, Any] = {
    "WeeklyRule": {
        "type": "object",
        "required": ["weekday", "start", "end"],
        "properties": {
            "weekday": {"type": "integer", "minimum": 0, "maximum": 6, "description": "0 = Monday"},
            "start": _HHMM,
            "end": _HHMM,
        },
    },
    "Absence": {
        "type": "object",
        "properties": {
            "id": _ID,
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "reason": {"type": "string"},
            "conflicts": {
                "type": "array",
                "description": "Only when just added: active appointments it overlaps.",
                "items": {"type": "object"},
            },
        },
    },
    "Availability": {
        "type": "object",
        "properties": {
            "agent": {"type": "object"},
            "timezone": {"const": "Europe/Paris"},
            "rules": {"type": "array", "items": _ref("WeeklyRule")},
            "absences": {"type": "array", "items": _ref("Absence")},
            "available_now": {"type": "boolean"},
        },
    },
    "ManagedMotif": {
        "type": "object",
        "properties": {"id": _ID, "service_id": _ID, "video": {"type": "boolean"}} | _MOTIF_FIELDS,
    },
    "ManagedService": {
        "type": "object",
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "motifs": {"type": "array", "items": _ref("ManagedMotif")},
        },
    },
    "Account": {
        "type": "object",
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "email": {"type": "string"},
            "role": {"enum": ["agent", "partner"]},
            "service_id": {"type": ["string", "null"]},
            "partner_point_id": {"type": ["string", "null"]},
            "active": {"type": "boolean"},
            "upcoming_bookings": {"type": "integer", "description": "Agents only."},
        },
    },
    "NewAccount": {
        "type": "object",
        "required": ["name", "email", "password"],
        "properties": {
            "name": _TEXT,
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string", "minLength": 10},
        },
    },
    "PartnerPoint": {
        "type": "object",
        "properties": {
            "id": _ID,
            "name": {"type": "string"},
            "address": {"type": "string"},
            "staff": {"type": "array", "items": _ref("Account")},
        },
    },
}

_NAME = {"type": "object", "required": ["name"], "properties": {"name": _TEXT}}
_ACCOUNT_CHANGE = {
    "type": "object",
    "properties": {"name": _TEXT, "active": {"type": "boolean"}},
}
_POINT = {
    "type": "object",
    "properties": {"name": _TEXT, "address": {"type": "string", "minLength": 1, "maxLength": 500}},
}
_TAKEN = {**_WRITE, "409": _json(_ref("Error"), "email-taken")}


def paths() -> dict[str, Any]:
    availability = _json(_ref("Availability"))
    agent = ["agent_id"]
    return {
        "/agents/{agent_id}/availability": {
            "get": _op(
                "Weekly rules and coming absences (agent: own, or 'me'; admin: organisation)",
                availability,
                params=agent,
            ),
            "put": _op(
                "Replace the weekly rules (Europe/Paris wall times, 5-minute steps)",
                availability,
                params=agent,
                body={
                    "type": "object",
                    "required": ["rules"],
                    "properties": {"rules": {"type": "array", "items": _ref("WeeklyRule")}},
                },
                errors=_WRITE,
            ),
        },
        "/agents/{agent_id}/absences": {
            "post": _op(
                "Add an absence; its free slots disappear at once",
                _json(_ref("Absence"), "Added"),
                params=agent,
                status="201",
                body={
                    "type": "object",
                    "required": ["start", "end"],
                    "properties": {
                        "start": {"type": "string", "format": "date-time"},
                        "end": {"type": "string", "format": "date-time"},
                        "reason": {"type": "string", "maxLength": 200},
                    },
                },
                errors=_WRITE,
            )
        },
        "/agents/{agent_id}/absences/{absence_id}": {
            "delete": _op(
                "Remove an absence", _json({"type": "object"}), params=[*agent, "absence_id"]
            )
        },
        "/agent/bookings/{booking_id}/cancel": {
            "post": _op(
                "Cancel on the service's side (agent of the service, admin); the citizen is "
                "mailed the cancellation",
                _json(_ref("Booking")),
                params=["booking_id"],
                errors={**_STAFF, "409": _ERR},
            )
        },
        "/agent/bookings/{booking_id}/confirm": {
            "post": _op(
                "Accept a request awaiting review (motif with needs_review); the citizen "
                "gets the confirmation with the join link",
                _json(_ref("Booking")),
                params=["booking_id"],
                errors={**_STAFF, "409": _ERR},
            )
        },
        "/admin/services": {
            "get": _op(
                "The organisation's services with all their motifs (admin)",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "services": {"type": "array", "items": _ref("ManagedService")}
                        },
                    }
                ),
            ),
            "post": _op(
                "Create a service",
                _json(_ref("ManagedService"), "Created"),
                body=_NAME,
                status="201",
                errors=_WRITE,
            ),
        },
        "/admin/services/{service_id}": {
            "patch": _op(
                "Rename a service",
                _json(_ref("ManagedService")),
                params=["service_id"],
                body=_NAME,
                errors=_WRITE,
            )
        },
        "/admin/services/{service_id}/motifs": {
            "post": _op(
                "Create a motif (notice, horizon and buffer default to 60 min, 60 days, 0)",
                _json(_ref("ManagedMotif"), "Created"),
                params=["service_id"],
                body={
                    "type": "object",
                    "required": ["label", "duration_min", "channels"],
                    "properties": _MOTIF_FIELDS,
                },
                status="201",
                errors=_WRITE,
            )
        },
        "/admin/motifs/{motif_id}": {
            "patch": _op(
                "Change a motif; active: false withdraws it from booking",
                _json(_ref("ManagedMotif")),
                params=["motif_id"],
                body={"type": "object", "properties": _MOTIF_FIELDS},
                errors=_WRITE,
            )
        },
        "/admin/agents": {
            "get": _op(
                "The organisation's agents",
                _json(
                    {
                        "type": "object",
                        "properties": {"agents": {"type": "array", "items": _ref("Account")}},
                    }
                ),
            ),
            "post": _op(
                "Create an agent of a service (weekday office hours to start with)",
                _json(_ref("Account"), "Created"),
                body={
                    "allOf": [
                        _ref("NewAccount"),
                        {
                            "type": "object",
                            "required": ["service_id"],
                            "properties": {"service_id": _ID},
                        },
                    ]
                },
                status="201",
                errors=_TAKEN,
            ),
        },
        "/admin/agents/{user_id}": {
            "patch": _op(
                "Rename, change service, deactivate (active: false) or reactivate an agent",
                _json(_ref("Account")),
                params=["user_id"],
                body=_ACCOUNT_CHANGE
                | {"properties": _ACCOUNT_CHANGE["properties"] | {"service_id": _ID}},
                errors=_WRITE,
            )
        },
        "/admin/partner-points": {
            "get": _op(
                "The organisation's partner points and their staff accounts",
                _json(
                    {
                        "type": "object",
                        "properties": {
                            "partner_points": {"type": "array", "items": _ref("PartnerPoint")}
                        },
                    }
                ),
            ),
            "post": _op(
                "Create a partner point",
                _json(_ref("PartnerPoint"), "Created"),
                body=_POINT | {"required": ["name", "address"]},
                status="201",
                errors=_WRITE,
            ),
        },
        "/admin/partner-points/{point_id}": {
            "patch": _op(
                "Change a partner point's name or address",
                _json(_ref("PartnerPoint")),
                params=["point_id"],
                body=_POINT,
                errors=_WRITE,
            )
        },
        "/admin/partner-points/{point_id}/staff": {
            "post": _op(
                "Create a staff account of the partner point",
                _json(_ref("Account"), "Created"),
                params=["point_id"],
                body=_ref("NewAccount"),
                status="201",
                errors=_TAKEN,
            )
        },
        "/admin/partner-points/{point_id}/staff/{user_id}": {
            "patch": _op(
                "Rename or deactivate (active: false) a staff account",
                _json(_ref("Account")),
                params=["point_id", "user_id"],
                body=_ACCOUNT_CHANGE,
                errors=_WRITE,
            )
        },
    }
