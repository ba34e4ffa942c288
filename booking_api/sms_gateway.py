"""Where SMS go: an operator's HTTP API, or ``.sms`` files in the outbox folder (demo,
development) next to the ``.eml`` mails.

Most French operators' SMS APIs take one POST of JSON with a bearer token; only the
field names differ, so the body is a template (``--sms-body-template``) whose string
values may hold ``{to}`` (E.164), ``{text}`` and ``{sender}``, e.g.
``{"to": "{to}", "text": "{text}", "sender": "{sender}"}`` or
``{"message": {"recipients": ["{to}"], "body": "{text}", "from": "{sender}"}}``.
Values are substituted in the parsed JSON, so a quote in a text cannot break the body.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any, Protocol

import aiohttp

SMS_TIMEOUT_S = 10.0
DEFAULT_BODY_TEMPLATE = '{"to": "{to}", "text": "{text}", "sender": "{sender}"}'
_PLACEHOLDER = re.compile(r"\{(to|text|sender)\}")


class SmsRefused(Exception):
    """The gateway answered with an error; ``permanent`` when retrying cannot help (a
    4xx other than timeout and rate limiting: bad number, bad credentials)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"SMS gateway answered {status}: {detail[:200]}")
        self.status = status
        self.permanent = 400 <= status < 500 and status not in (408, 425, 429)


class SmsSender(Protocol):
    async def send_sms(self, message_id: str, to: str, text: str) -> None: ...


def parse_body_template(template: str) -> Any:
    """The template as JSON; a typo fails at start, not at the first SMS."""
    try:
        parsed = json.loads(template)
    except json.JSONDecodeError as exc:
        raise ValueError(f"SMS body template is not JSON: {exc}") from exc
    if not isinstance(parsed, dict) or "{text}" not in template or "{to}" not in template:
        raise ValueError("SMS body template must be a JSON object using {to} and {text}")
    return parsed


def fill_template(template: Any, values: dict[str, str]) -> Any:
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
    if isinstance(template, list):
        return [fill_template(item, values) for item in template]
    if isinstance(template, dict):
        return {key: fill_template(item, values) for key, item in template.items()}
    return template


class HttpSmsGateway:
    """POSTs each SMS to the operator's API. The outbox row's id goes as the
    ``Idempotency-Key`` header: a gateway that honours it sends once even when its
    answer was lost and the outbox tries again."""

    def __init__(self, url: str, token: str | None, sender: str, body_template: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("SMS gateway URL must start with http:// or https://")
        self._url = url
        self._token = token
        self._sender = sender
        self._template = parse_body_template(body_template)

    async def send_sms(self, message_id: str, to: str, text: str) -> None:
        body = fill_template(self._template, {"to": to, "text": text, "sender": self._sender})
        headers = {"Idempotency-Key": message_id}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        timeout = aiohttp.ClientTimeout(total=SMS_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(self._url, json=body, headers=headers) as response,
        ):
            if response.status >= 300:
                raise SmsRefused(response.status, await response.text())


class SmsFileSink:
    """Writes each SMS as ``<id>.sms`` (the recipient on the first line, then the text)."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder

    async def send_sms(self, message_id: str, to: str, text: str) -> None:
        await asyncio.to_thread(self._write, message_id, f"To: {to}\n\n{text}\n")

    def _write(self, message_id: str, content: str) -> None:
        self._folder.mkdir(parents=True, exist_ok=True)
        target = self._folder / f"{message_id}.sms"
        partial = target.with_suffix(".sms.part")
        partial.write_text(content, encoding="utf-8")
        partial.replace(target)
