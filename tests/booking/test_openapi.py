"""The OpenAPI document describes exactly the routes the application serves."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from booking_api import BookingConfig, create_app
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
