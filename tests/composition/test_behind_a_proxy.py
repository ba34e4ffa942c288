"""The service as deployed behind a reverse proxy: ``--trusted-proxy`` makes each
forwarded client a client of its own; anyone else's X-Forwarded-For is not believed;
``--metrics-token`` opens /metrics to a scraper elsewhere, and to nobody without it."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningService, run_service

pytestmark = pytest.mark.timeout(120)

AGENT = "agent@demo.visioguichet.fr"


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(
        tmp_path_factory.mktemp("proxied"), extra_args=("--trusted-proxy", "127.0.0.0/8")
    ) as running:
        yield running


def login_status(service: RunningService, password: str, forwarded_for: str) -> int:
    request = urllib.request.Request(
        service.base_url + "/api/auth/login",
        data=json.dumps({"email": AGENT, "password": password}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_a_guesser_locks_only_itself_out_behind_a_trusted_proxy(
    proxied: RunningService,
) -> None:
    guesses = [login_status(proxied, "wrong-password", "203.0.113.9") for _ in range(6)]
    assert guesses == [401] * 5 + [429]
    assert login_status(proxied, "demo-agent-2026", "198.51.100.7") == 200


def test_a_trusted_proxy_that_is_not_an_address_is_refused_at_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "visioguichet", "serve", "--data-dir", str(tmp_path),
         "--trusted-proxy", "10.0.0.0/33"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "not an IP address or CIDR network: '10.0.0.0/33'" in result.stderr


def test_metrics_need_the_bearer_token_when_one_is_set(tmp_path: Path) -> None:
    token = "a-long-random-metrics-token"
    with run_service(tmp_path, demo=False, extra_args=("--metrics-token", token)) as service:

        def status_with(authorization: str | None) -> int:
            headers = {"Authorization": authorization} if authorization else {}
            request = urllib.request.Request(service.base_url + "/metrics", headers=headers)
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return int(response.status)
            except urllib.error.HTTPError as error:
                assert error.headers["WWW-Authenticate"].startswith("Bearer")
                return int(error.code)

        assert status_with(None) == 401  # even from loopback
        assert status_with("Bearer not-the-token") == 401
        assert status_with(f"Basic {token}") == 401
        assert status_with(f"Bearer {token}") == 200
