"""``visioguichet serve`` with the SMS flags: a phone-only booking's SMS reaches the
operator's API as the body template says, with the bearer token, and the short link it
carries, opened on the service itself, leads to the call page."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.composition.test_cli import visioguichet
from tests.support.server import free_port, run_service

pytestmark = pytest.mark.timeout(120)

DEMO_MOTIF = "demo-motif-info"


class Gateway(ThreadingHTTPServer):
    received: list[tuple[str, dict[str, Any]]]


class _Handler(BaseHTTPRequestHandler):
    server: Gateway

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length))
        self.server.received.append((self.headers.get("Authorization", ""), body))
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"status": "queued"}')

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    server = Gateway(("127.0.0.1", free_port()), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _status_and_location(base_url: str, path: str) -> tuple[int, str]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Location") or ""
    finally:
        connection.close()


def test_serve_sends_the_sms_through_the_gateway_and_its_short_link_opens_the_call(
    tmp_path: Path, gateway: Gateway
) -> None:
    port = gateway.server_address[1]
    args = [
        "--sms-gateway-url", f"http://127.0.0.1:{port}/v1/sms",
        "--sms-gateway-token", "t0ken",
        "--sms-sender", "CAF33",
        "--sms-body-template", '{"recipients": ["{to}"], "message": "{text}", "from": "{sender}"}',
    ]  # fmt: skip
    with run_service(tmp_path / "service", extra_args=args) as service:
        slots = service.get_json(f"/api/motifs/{DEMO_MOTIF}/slots")["slots"]
        soon = time.time() + 3600
        start = next(
            s["start"] for s in slots if datetime.fromisoformat(s["start"]).timestamp() > soon
        )
        citizen = {"name": "Paul Martin", "phone": "07 56 12 34 56"}
        body = {"motif_id": DEMO_MOTIF, "start": start, "citizen": citizen}
        request = urllib.request.Request(
            service.base_url + "/api/bookings",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201
        deadline = time.monotonic() + 20
        while not gateway.received and time.monotonic() < deadline:
            time.sleep(0.1)
        [(authorization, sms)] = gateway.received
        assert authorization == "Bearer t0ken"
        assert sms["recipients"] == ["+33756123456"] and sms["from"] == "CAF33"
        marker = service.base_url + "/j/"
        code = sms["message"].split(marker, 1)[1][:12]

        status, location = _status_and_location(service.base_url, f"/j/{code}")
        assert (status, location) == (307, f"/api/j/{code}")
        status, location = _status_and_location(service.base_url, location)
        assert status == 303 and location.startswith(service.base_url + "/call#token=")


def test_serve_refuses_a_body_template_that_is_not_json(tmp_path: Path) -> None:
    result = visioguichet("serve", "--sms-body-template", "{to: text}", "--data-dir", str(tmp_path))
    assert result.returncode != 0 and "sms-body-template" in result.stderr
