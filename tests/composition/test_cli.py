"""The ``visioguichet`` command as an operator uses it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.server import run_service
from visioguichet.join_token import load_or_create_signer

pytestmark = pytest.mark.timeout(120)


def visioguichet(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "visioguichet", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_command_prints_a_token_the_node_key_verifies(tmp_path: Path) -> None:
    result = visioguichet(
        "token",
        "--data-dir",
        str(tmp_path),
        "--room",
        "load-1",
        "--role",
        "guest",
        "--subject",
        "bot-1",
        "--name",
        "Bot",
    )
    assert result.returncode == 0, result.stderr
    grant = load_or_create_signer(tmp_path / "join-token.key").verifier.verify(
        result.stdout.strip()
    )
    assert (grant.room, grant.role, grant.subject, grant.lobby) == (
        "load-1",
        "guest",
        "bot-1",
        False,
    )


def test_bad_udp_port_range_is_refused_clearly(tmp_path: Path) -> None:
    result = visioguichet("serve", "--data-dir", str(tmp_path), "--udp-ports", "50000-40000")
    assert result.returncode == 2
    assert "port range" in result.stderr


def test_created_agent_can_log_in(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    assert visioguichet("migrate", "--data-dir", str(data_dir)).returncode == 0
    created = visioguichet(
        "create-agent",
        "--data-dir",
        str(data_dir),
        "--email",
        "claire.martin@caf.example",
        "--name",
        "Claire Martin",
        "--password-stdin",
        stdin="un-mot-de-passe-solide\n",
    )
    assert created.returncode == 0, created.stderr
    short = visioguichet(
        "create-agent",
        "--data-dir",
        str(data_dir),
        "--email",
        "x@caf.example",
        "--name",
        "X",
        "--password-stdin",
        stdin="court\n",
    )
    assert short.returncode == 2 and "10 characters" in short.stderr
    duplicate = visioguichet(
        "create-agent",
        "--data-dir",
        str(data_dir),
        "--email",
        "Claire.Martin@caf.example",
        "--name",
        "Claire Martin bis",
        "--password-stdin",
        stdin="un-autre-mot-de-passe\n",
    )
    assert duplicate.returncode == 2
    assert "claire.martin@caf.example already exists" in duplicate.stderr.lower()
    assert "Traceback" not in duplicate.stderr

    with run_service(data_dir, demo=False) as service:
        request = urllib.request.Request(
            service.base_url + "/api/auth/login",
            method="POST",
            data=json.dumps(
                {"email": "claire.martin@caf.example", "password": "un-mot-de-passe-solide"}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.load(response)
    assert body["user"]["name"] == "Claire Martin"
