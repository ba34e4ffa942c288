"""``visioguichet serve`` as the README runs it in production: ``--smtp-url`` and no
``--mail-from``. Every mail must reach the real SMTP server with a real sender."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.composition.test_cli import visioguichet
from tests.support.server import RunningService, free_port, run_service
from visioguichet.settings import DEFAULT_MAIL_FROM

pytestmark = pytest.mark.timeout(120)

DEMO_MOTIF = "demo-motif-info"


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append((envelope.mail_from, message))
        return "250 OK"


def _book(service: RunningService) -> None:
    slots = service.get_json(f"/api/motifs/{DEMO_MOTIF}/slots")["slots"]
    soon = time.time() + 3600
    start = next(s["start"] for s in slots if datetime.fromisoformat(s["start"]).timestamp() > soon)
    body = {
        "motif_id": DEMO_MOTIF,
        "start": start,
        "citizen": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
    request = urllib.request.Request(
        service.base_url + "/api/bookings",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201


def test_serve_with_smtp_and_no_mail_from_delivers_from_the_default_sender(
    tmp_path: Path,
) -> None:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with run_service(tmp_path / "data", smtp_url=f"smtp://127.0.0.1:{port}") as service:
            _book(service)
            deadline = time.monotonic() + 20
            while not inbox.mails and time.monotonic() < deadline:
                time.sleep(0.1)
            assert inbox.mails, f"no mail reached the SMTP server:\n{service.log_text()[-3000:]}"
            log = service.log_text()
    finally:
        controller.stop()
    envelope_from, mail = inbox.mails[0]
    assert envelope_from == "no-reply@visioguichet.localhost"
    assert mail["From"] == DEFAULT_MAIL_FROM
    assert mail["To"] == "jeanne@example.org"
    assert "member" not in log and "TypeError" not in log


def test_demo_outbox_files_carry_the_default_sender(tmp_path: Path) -> None:
    with run_service(tmp_path / "data") as service:
        _book(service)
        deadline = time.monotonic() + 20
        while not service.outbox() and time.monotonic() < deadline:
            time.sleep(0.1)
        [eml] = service.outbox()
    mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert mail["From"] == DEFAULT_MAIL_FROM


def test_a_mail_from_that_is_not_an_address_is_refused_at_start(tmp_path: Path) -> None:
    result = visioguichet("serve", "--data-dir", str(tmp_path), "--mail-from", "Visioguichet")
    assert result.returncode == 2
    assert "--mail-from" in result.stderr
