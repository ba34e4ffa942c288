"""The REST API fuzzed from its own OpenAPI description, by schemathesis, against the real
service (``visioguichet serve --demo``, SQLite): anonymously, as a citizen holding a
booking's links, and signed in as each staff role.

Every answer must be one the description documents (status, content type, body schema),
never a 5xx; a method a path does not have gets 405; every answer carries the security
headers, and no successful answer control characters the server took in
(``api_fuzz_checks``). Half the generated path identifiers are real ones of the demo
data (a booking, its manage token, the demo agent…), so the fuzz gets past the 404s to
the validation behind them. Examples per operation are bounded: one role takes well
under a minute.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningService
from tests.support.server import run_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAX_EXAMPLES = 12  # per operation and generation mode (positive, negative)
SEED = 20261204
REQUEST_TIMEOUT_S = 10
REAL_ID_PROBABILITY = 0.5

STAFF = {
    "agent": ("agent@demo.visioguichet.fr", "demo-agent-2026"),
    "partner": ("accueil@demo.visioguichet.fr", "demo-partner-2026"),
    "admin": ("admin@demo.visioguichet.fr", "demo-admin-2026"),
}
# The SSE stream never ends (a fuzzer would wait on it forever); logging out would end
# the session the rest of the role's run relies on.
NOT_FUZZED = ("/agent/queue/events", "/auth/logout")
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "unsupported_method",  # a method a path does not have: 405 with an Allow header
    "no_control_characters_stored",
    "security_headers_on_every_answer",
)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)


@dataclass
class Identity:
    """What one fuzz run sends with every request."""

    headers: dict[str, str] = field(default_factory=dict)
    include_path_regex: str | None = None
    staff_only: bool = False


def _request(
    base: str,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, Any]:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    all_headers = {"Content-Type": "application/json"} if raw is None else {}
    all_headers |= headers or {}
    request = urllib.request.Request(base + path, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
            return response.status, json.load(response), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


def _log_in(base: str, email: str, password: str) -> dict[str, str]:
    status, body, headers = _request(
        base, "POST", "/api/auth/login", {"email": email, "password": password}
    )
    assert status == 200, body
    cookie = SimpleCookie()
    for value in headers.get_all("Set-Cookie") or []:
        cookie.load(value)
    session = "; ".join(f"{name}={morsel.value}" for name, morsel in cookie.items())
    return {"Cookie": session, "X-CSRF-Token": body["csrf_token"]}


def _book(base: str, slot_index: int) -> dict[str, Any]:
    status, body, _ = _request(base, "GET", "/api/motifs/demo-motif-info/slots")
    assert status == 200, body
    soon = datetime.now(UTC) + timedelta(hours=1)
    slots = [s for s in body["slots"] if datetime.fromisoformat(s["start"]) > soon]
    booking = {
        "motif_id": "demo-motif-info",
        "start": slots[slot_index]["start"],
        "citizen": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
    status, body, _ = _request(base, "POST", "/api/bookings", booking)
    assert status == 201, body
    return dict(body)


def _token_of(url: str) -> str:
    return url.split("#token=", 1)[1]


def _upload(base: str, booking_id: str, bearer: str) -> str:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="avis.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + PNG
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, answer, _ = _request(
        base,
        "POST",
        f"/api/bookings/{booking_id}/files",
        headers={
            "Authorization": f"Bearer {bearer}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
        raw=body,
    )
    assert status == 201, answer
    return str(answer["id"])


@dataclass
class FuzzTarget:
    service: RunningService
    identities: dict[str, Identity]
    dictionaries: dict[str, list[str]]


def _prepare(service: RunningService) -> FuzzTarget:
    """Sign every role in first (failed logins of the fuzz lock the address out for a
    while), then make the demo data the fuzz will aim at."""
    base = service.base_url
    staff = {role: _log_in(base, *credentials) for role, credentials in STAFF.items()}
    bookings = [_book(base, 0), _book(base, 3)]
    manage_tokens = [_token_of(b["manage_url"]) for b in bookings]
    join_token = _token_of(bookings[0]["join_url"])
    file_id = _upload(base, bookings[0]["id"], join_token)
    status, queued, _ = _request(
        base,
        "POST",
        "/api/queue",
        {"motif_id": "demo-motif-info", "citizen": {"name": "Paul Martin"}},
    )
    wait_tokens = [str(queued["wait_token"])] if status == 201 else []
    status, staff_list, _ = _request(
        base, "GET", "/api/admin/partner-points", headers=staff["admin"]
    )
    user_ids = {"demo-agent"}
    if status == 200:
        user_ids |= _ids_under(staff_list, "staff")
    identities = {
        "anonymous": Identity(),
        "citizen": Identity(
            headers={"Authorization": f"Bearer {join_token}"},
            include_path_regex=r"^/(bookings/\{booking_id\}|manage/)",
        ),
        **{role: Identity(headers=headers, staff_only=True) for role, headers in staff.items()},
    }
    dictionaries = {
        "booking_id": [b["id"] for b in bookings],
        "token": manage_tokens + wait_tokens,
        "file_id": [file_id],
        "agent_id": ["demo-agent"],
        "user_id": sorted(user_ids),
        "motif_id": ["demo-motif-info", "demo-motif-dossier", "demo-motif-pieces"],
        "service_id": ["demo-caf-prestations"],
        "point_id": ["demo-france-services"],
        "day": [(datetime.now(UTC) + timedelta(days=40)).date().isoformat()],
    }
    return FuzzTarget(service, identities, dictionaries)


def _ids_under(value: Any, key: str) -> set[str]:
    """Every ``id`` found in lists named ``key`` anywhere in a JSON document."""
    found: set[str] = set()
    if isinstance(value, dict):
        for name, item in value.items():
            if name == key and isinstance(item, list):
                found |= {str(entry["id"]) for entry in item if isinstance(entry, dict)}
            else:
                found |= _ids_under(item, key)
    elif isinstance(value, list):
        for item in value:
            found |= _ids_under(item, key)
    return found


def _config_file(target: FuzzTarget, path: Path) -> Path:
    """A schemathesis.toml binding each path parameter to the real identifiers half the time."""
    lines = []
    for name, values in target.dictionaries.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name in target.dictionaries:
        lines.append(
            f'"path.{name}" = {{ dictionary = "{name}", probability = {REAL_ID_PROBABILITY} }}'
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    with run_service(tmp_path_factory.mktemp("api-fuzz")) as service:
        yield _prepare(service)


def _staff_operations_regex(base: str) -> str:
    """The paths that ask for a staff session (the others are the anonymous run's)."""
    with urllib.request.urlopen(base + "/api/openapi.json", timeout=REQUEST_TIMEOUT_S) as answer:
        description = json.load(answer)
    paths = sorted(
        path
        for path, operations in description["paths"].items()
        if any(isinstance(op, dict) and op.get("security") for op in operations.values())
    )
    return "^(" + "|".join(p.replace("{", r"\{").replace("}", r"\}") for p in paths) + ")$"


def _failures_section(output: str) -> str:
    start = output.find("= FAILURES =")
    end = output.find("= WARNINGS =")
    section = output[start : end if end > start else None] if start >= 0 else output[-6000:]
    return section[:20_000]


# Admin last: its fuzz may deactivate the demo accounts the other roles use.
@pytest.mark.parametrize("who", ["anonymous", "citizen", "agent", "partner", "admin"])
def test_api_answers_every_generated_request_as_its_description_says(
    target: FuzzTarget, who: str, tmp_path: Path, artifacts_dir: Path
) -> None:
    identity = target.identities[who]
    base = target.service.base_url
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(_config_file(target, tmp_path / "schemathesis.toml")),
        "--no-color",
        "run",
        f"{base}/api/openapi.json",
        "--workers",
        "1",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--no-shrink",
        "--phases",
        "examples,coverage,fuzzing",
        "--checks",
        ",".join(CHECKS),
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--suppress-health-check",
        "all",
        "--warnings",
        "off",
    ]
    for path in NOT_FUZZED:
        command += ["--exclude-path", path]
    if identity.include_path_regex:
        command += ["--include-path-regex", identity.include_path_regex]
    if identity.staff_only:
        command += ["--include-path-regex", _staff_operations_regex(base)]
    for name, value in identity.headers.items():
        command += ["--header", f"{name}: {value}"]
    repo = Path(__file__).resolve().parents[2]
    environment = os.environ | {
        "SCHEMATHESIS_HOOKS": "tests.security.api_fuzz_checks",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    }
    run = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=480,
        env=environment,
        cwd=tmp_path,  # schemathesis keeps a cache folder where it runs
        check=False,
    )
    output = run.stdout + run.stderr
    (artifacts_dir / f"api-fuzz-{who}.txt").write_text(output)
    assert "Tested:" in output, output[-4000:]
    if run.returncode != 0:
        pytest.fail(f"schemathesis as {who}:\n{_failures_section(output)}", pytrace=False)
