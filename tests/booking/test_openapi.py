"""The OpenAPI document describes exactly the routes the application serves, the
answers they give to bad requests, and the shape of what they return."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema_rs
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from booking_api import BookingConfig, api_requests, create_app
from booking_api.openapi import openapi_document
from booking_api.openapi_operations import REF, DocumentSchema
from tests.booking.conftest import bookable_slots, booking_body, first_free_slot
from visioguichet.join_token import JoinTokenSigner


def _served_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        if route.method in ("HEAD", "OPTIONS"):
            continue
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        routes.add((route.method.lower(), str(path)))
    return routes


async def test_every_route_is_documented_and_every_documented_route_exists(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    config = BookingConfig(data_dir=tmp_path)
    app = create_app(config, JoinTokenSigner(Ed25519PrivateKey.generate()))
    served = _served_routes(app)
    root = web.Application()
    root.add_subapp("/api", app)
    client = await aiohttp_client(root)
    response = await client.get("/api/openapi.json")
    assert response.status == 200
    document = await response.json()
    assert document["servers"] == [{"url": "/api"}]
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert served == documented
    schemas = document["components"]["schemas"]
    for path, item in document["paths"].items():
        placeholders = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            assert operation["responses"], f"{method} {path} lists no responses"
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == placeholders, f"{method} {path} path parameters"
            if path.startswith(("/admin/", "/agents/")):
                assert operation["security"] == [{"session": [], "csrf": []}], path
            for ref in re.findall(r'"#/components/schemas/(\w+)"', json.dumps(operation)):
                assert ref in schemas, f"{method} {path} refers to a missing schema {ref}"


# What each documented path parameter is filled with: demo data, so handlers get as far
# as reading the request.
_PATH_VALUES = {
    "motif_id": "demo-motif-info",
    "service_id": "demo-caf-prestations",
    "agent_id": "demo-agent",
    "user_id": "demo-agent",
    "point_id": "demo-france-services",
    "day": "2030-01-02",
}
_SIGN_IN = {
    "admin": ("admin@demo.visioguichet.fr", "demo-admin-2026"),
    "agent": ("agent@demo.visioguichet.fr", "demo-agent-2026"),
    "partner": ("accueil@demo.visioguichet.fr", "demo-partner-2026"),
}


def _role_for(path: str) -> str | None:
    if path.startswith(("/agent/", "/agents/")):
        return "agent"
    if path.startswith("/partner/"):
        return "partner"
    if path.startswith(("/admin/", "/stats")):
        return "admin"
    return None


async def _document(client: TestClient) -> dict[str, Any]:
    return dict(await (await client.get("/api/openapi.json")).json())


async def _sign_in(client: TestClient, role: str) -> dict[str, str]:
    email, password = _SIGN_IN[role]
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status == 200
    return {"X-CSRF-Token": (await response.json())["csrf_token"]}


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Any:
    return jsonschema_rs.validator_for({"components": document["components"], **schema})


def _response_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    response = document["paths"][path][method]["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


async def test_every_bad_request_answer_is_documented(booking_client: Any) -> None:
    """A body that is not JSON, and dates malformed or out of range, get answers the
    operation documents (400 or 422), never an undocumented status nor a 500."""
    client = await booking_client()
    document = await _document(client)
    booking = await (
        await client.post(
            "/api/bookings", json=booking_body((await first_free_slot(client))["start"])
        )
    ).json()
    values = _PATH_VALUES | {
        "booking_id": booking["id"],
        "token": booking["manage_url"].split("#token=", 1)[1],
    }
    undocumented: list[str] = []
    by_role: dict[str | None, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            by_role.setdefault(_role_for(path), []).append((method, path, operation))
    for role, operations in by_role.items():
        client.session.cookie_jar.clear()
        headers = await _sign_in(client, role) if role else {}
        for method, path, operation in operations:
            url = "/api" + re.sub(r"{(\w+)}", lambda m: values.get(m[1], "x"), path)
            attempts: list[dict[str, Any]] = []
            if "requestBody" in operation:
                attempts.append(
                    {
                        "data": b"{not json",
                        "headers": headers | {"Content-Type": "application/json"},
                    }
                )
            dates = [
                p["name"]
                for p in operation.get("parameters", [])
                if p.get("schema", {}).get("format") == "date"
            ]
            for value in ("0001-01-01", "9999-12-31", "01/02/2030"):
                if dates:
                    attempts.append({"params": dict.fromkeys(dates, value), "headers": headers})
            for attempt in attempts:
                response = await client.request(method.upper(), url, **attempt)
                if str(response.status) not in operation["responses"]:
                    undocumented.append(f"{method.upper()} {path} -> {response.status}")
    assert undocumented == [], "\n".join(undocumented)


async def test_answers_match_their_documented_schemas(booking_client: Any) -> None:
    """Real answers validate against the document: a citizen with only an email has a
    null phone, and the other way round."""
    client = await booking_client()
    document = await _document(client)
    slots = await bookable_slots(client)
    by_mail = booking_body(slots[0]["start"], name="Jeanne Dupont", email="jeanne@example.org")
    by_phone = booking_body(slots[1]["start"], name="Paul Martin", phone="0612345678")
    checked: list[tuple[str, str, int, Any]] = []
    for body in (by_mail, by_phone):
        response = await client.post("/api/bookings", json=body)
        assert response.status == 201, await response.text()
        booked = await response.json()
        checked.append(("post", "/bookings", 201, booked))
        token = booked["manage_url"].split("#token=", 1)[1]
        view = await client.get(f"/api/manage/{token}")
        checked.append(("get", "/manage/{token}", view.status, await view.json()))
    await _sign_in(client, "agent")
    day = by_phone["start"][:10]
    agenda = await client.get("/api/agent/agenda", params={"date": day})
    checked.append(("get", "/agent/agenda", agenda.status, await agenda.json()))
    me = await client.get("/api/auth/me")
    checked.append(("get", "/auth/me", me.status, await me.json()))
    client.session.cookie_jar.clear()
    await _sign_in(client, "admin")
    for path in ("/admin/agents", "/admin/services", "/admin/partner-points", "/admin/closures"):
        answer = await client.get("/api" + path)
        checked.append(("get", path, answer.status, await answer.json()))
    assert [c for c in checked if c[2] >= 300] == []
    for method, path, status, answer in checked:
        validator = _validator(document, _response_schema(document, method, path, status))
        errors = [f"{e.instance_path}: {e.message}" for e in validator.iter_errors(answer)]
        assert errors == [], f"{method.upper()} {path}: {errors}"


async def test_the_served_document_is_generated_from_the_request_models(
    booking_client: Any,
) -> None:
    """What is served is what the models generate: a body the handler reads through a
    model is documented by that model's own schema."""
    client = await booking_client()
    served = await _document(client)
    assert served == json.loads(json.dumps(openapi_document()))
    bodies = {
        (method, path): operation["requestBody"]["content"]["application/json"]["schema"]
        for path, item in served["paths"].items()
        for method, operation in item.items()
        if "requestBody" in operation
    }
    assert bodies[("post", "/bookings")] == {"$ref": "#/components/schemas/NewBooking"}
    generated = api_requests.NewBooking.model_json_schema(
        ref_template=REF, schema_generator=DocumentSchema
    )
    citizen = generated.pop("$defs")["Citizen"]
    assert served["components"]["schemas"]["NewBooking"] == generated
    assert served["components"]["schemas"]["Citizen"] == citizen
    assert citizen["required"] == ["name"]
    assert citizen["properties"]["email"]["type"] == ["string", "null"]


async def test_field_errors_carry_a_code_and_a_path_as_documented(booking_client: Any) -> None:
    """Each field at fault keeps its French message in ``fields`` and is listed in
    ``field_errors`` with a machine code the pages translate; the answer matches the
    documented Error schema."""
    client = await booking_client()
    document = await _document(client)
    start = (await first_free_slot(client))["start"]
    body = booking_body(start, name="Jeanne\u202eDupont", email="jeanne@")
    response = await client.post("/api/bookings", json=body)
    assert response.status == 422
    answer = await response.json()
    codes = {e["field"]: e["code"] for e in answer["field_errors"]}
    assert codes == {"citizen.name": "control-character", "citizen.email": "invalid-email"}
    assert {e["field"]: e["message"] for e in answer["field_errors"]} == answer["fields"]
    validator = _validator(document, _response_schema(document, "post", "/bookings", 422))
    assert [e.message for e in validator.iter_errors(answer)] == []

    missing = await client.post("/api/bookings", json={"start": start})
    codes = {e["field"]: e["code"] for e in (await missing.json())["field_errors"]}
    assert codes == {"motif_id": "required", "citizen": "required"}

    too_far = await client.get("/api/motifs/demo-motif-info/slots", params={"from": "9999-12-31"})
    assert too_far.status == 400
    error = (await too_far.json())["field_errors"][0]
    assert (error["field"], error["code"]) == ("from", "date-out-of-range")
