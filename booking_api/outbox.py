"""The outbox: mail is written in the same transaction as the booking it is about, then
sent by :class:`OutboxSender` with retries, so an SMTP outage delays mail but never
loses it."""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import ssl
import time
from email import message_from_string, policy
from pathlib import Path
from urllib.parse import unquote, urlsplit

import structlog

from booking_api.config import BookingConfig
from booking_api.db import Connection, Database
from booking_api.tokens import new_id

log = structlog.get_logger(__name__)


async def enqueue_mail(
    tx: Connection, *, kind: str, booking_id: str | None, recipient: str, message: str
) -> str:
    mail_id = new_id()
    now_ns = time.time_ns()
    now = now_ns // 1_000_000_000
    await tx.execute(
        "INSERT INTO outbox (id, kind, booking_id, recipient, message, created_at, created_ns, "
        "attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        mail_id,
        kind,
        booking_id,
        recipient,
        message,
        now,
        now_ns,
        now,
    )
    return mail_id


class SmtpTarget:
    """Where ``smtp://[user:pass@]host:port`` or ``smtps://...`` points."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP URL must look like smtp://host:port or smtps://host:port")
        self.tls = parts.scheme == "smtps"
        self.host = parts.hostname
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def send(self, sender: str, recipient: str, message: str, timeout: float = 10.0) -> None:
        """Blocking; run it in a thread."""
        smtp: smtplib.SMTP
        if self.tls:
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with smtp:
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.sendmail(sender, [recipient], message.encode("utf-8"))


def envelope_sender(mail_from: str) -> str:
    return mail_from.rsplit("<", 1)[-1].rstrip(">").strip() if "<" in mail_from else mail_from


class OutboxSender:
    """Sends due outbox rows; failed sends are retried with exponential backoff."""

    def __init__(self, config: BookingConfig, db: Database, wakeup: asyncio.Event) -> None:
        self._config = config
        self._db = db
        self._wakeup = wakeup
        self._smtp = SmtpTarget(config.smtp_url) if config.smtp_url else None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="booking-outbox-sender")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.send_due()
            except Exception:
                log.exception("outbox_pass_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), self._config.worker_poll_s)
            self._wakeup.clear()

    async def send_due(self) -> int:
        """Try every due mail once; returns how many went out."""
        now = int(time.time())
        rows = await self._db.fetch_all(
            "SELECT id, kind, recipient, message, attempts FROM outbox "
            "WHERE sent_at IS NULL AND next_attempt_at <= ? "
            "ORDER BY created_at, created_ns LIMIT 50",
            now,
        )
        sent = 0
        for row in rows:
            try:
                await self._deliver(row["id"], row["recipient"], row["message"])
            except (OSError, smtplib.SMTPException) as exc:
                attempts = int(row["attempts"]) + 1
                delay = min(
                    self._config.mail_retry_base_s * 2 ** (attempts - 1),
                    self._config.mail_retry_max_s,
                )
                await self._db.execute(
                    "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? "
                    "WHERE id = ?",
                    attempts,
                    int(time.time() + max(delay, 1.0)),
                    type(exc).__name__,
                    row["id"],
                )
                log.warning(
                    "mail_send_failed",
                    kind=row["kind"],
                    attempts=attempts,
                    error=type(exc).__name__,
                )
                continue
            await self._db.execute(
                "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
                "WHERE id = ?",
                int(time.time()),
                row["id"],
            )
            sent += 1
            log.info("mail_sent", kind=row["kind"])
        return sent

    async def _deliver(self, mail_id: str, recipient: str, message: str) -> None:
        if self._smtp is None:
            await asyncio.to_thread(_write_eml, self._config.outbox_dir, mail_id, message)
            return
        await asyncio.to_thread(
            self._smtp.send, envelope_sender(self._config.mail_from), recipient, message
        )


def _write_eml(folder: Path, mail_id: str, message: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{mail_id}.eml"
    partial = target.with_suffix(".eml.part")
    partial.write_text(message, encoding="utf-8")
    partial.replace(target)


def parse_stored(message: str) -> object:
    """The stored text as an email message (for tools reading the outbox)."""
    return message_from_string(message, policy=policy.default)
