"""The outbox: mail and SMS are written in the same transaction as the booking they are
about, then sent by :class:`OutboxSender` with retries, so an SMTP or SMS gateway outage
delays them but never loses them. A row's ``channel`` says which: ``email`` goes by
SMTP (or an ``.eml`` file), ``sms`` by the SMS sender (``booking_api.sms_gateway``).

Every node runs a sender, and a mail must go out once: a sender first claims a few due
rows on PostgreSQL with ``FOR UPDATE SKIP LOCKED`` (concurrent senders take disjoint
rows without waiting on each other) by moving their next attempt ``CLAIM_LEASE_S``
ahead, then sends them; SQLite is one process's, whose one sender just reads them.
A sent row is marked sent, a failed one gets its retry time; a row whose node died
mid-send is due again once the lease has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
import time
from email import message_from_string, policy
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import unquote, urlsplit

import aiohttp
import structlog

from booking_api.config import BookingConfig
from booking_api.db import Connection, Database
from booking_api.sms_gateway import HttpSmsGateway, SmsFileSink, SmsRefused, SmsSender
from booking_api.tokens import new_id

log = structlog.get_logger(__name__)

CLAIM_BATCH = 10
# Longer than a batch's sends can take (SMTP_TIMEOUT_S each), so no live sender's
# claim runs out under it.
SMTP_TIMEOUT_S = 10.0
CLAIM_LEASE_S = int(CLAIM_BATCH * SMTP_TIMEOUT_S * 3)
MAX_PER_PASS = 50


CHANNELS = ("email", "sms")


async def enqueue_mail(
    tx: Connection,
    *,
    kind: str,
    booking_id: str | None,
    recipient: str,
    message: str,
    channel: str = "email",
) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown outbox channel {channel!r}")
    mail_id = new_id()
    now_ns = time.time_ns()
    now = now_ns // 1_000_000_000
    await tx.execute(
        "INSERT INTO outbox (id, kind, booking_id, recipient, message, created_at, created_ns, "
        "attempts, next_attempt_at, channel) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        mail_id,
        kind,
        booking_id,
        recipient,
        message,
        now,
        now_ns,
        now,
        channel,
    )
    return mail_id


async def enqueue_sms(tx: Connection, *, kind: str, booking_id: str, to: str, text: str) -> str:
    """Queue an SMS: ``to`` in E.164, ``text`` as the phone shows it."""
    return await enqueue_mail(
        tx, kind=kind, booking_id=booking_id, recipient=to, message=text, channel="sms"
    )


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

    def send(
        self, sender: str, recipient: str, message: str, timeout: float = SMTP_TIMEOUT_S
    ) -> None:
        """Blocking; run it in a thread.

        smtplib writes addresses into SMTP commands as they are: a line break in one
        would smuggle in commands of its own (another RCPT TO), so it is refused here.
        """
        for address in (sender, recipient):
            if any(ord(c) < 32 or ord(c) == 127 for c in address):
                raise ValueError(f"control character in mail address {address!r}")
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
    """The bare address of a ``Name <address>`` sender, for the SMTP envelope."""
    _, address = parseaddr(mail_from)
    if "@" not in address:
        raise ValueError(f"mail sender is not an address: {mail_from!r}")
    return address


def is_permanent(exc: BaseException) -> bool:
    """A refusal the server will repeat (5xx): retrying only delays the error report."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, SmsRefused):
        return exc.permanent
    return False


class OutboxSender:
    """Sends due outbox rows; failed sends are retried with exponential backoff."""

    def __init__(self, config: BookingConfig, db: Database, wakeup: asyncio.Event) -> None:
        self._config = config
        self._db = db
        self._wakeup = wakeup
        self._smtp = SmtpTarget(config.smtp_url) if config.smtp_url else None
        self._sms: SmsSender = (
            HttpSmsGateway(
                config.sms_gateway_url,
                config.sms_gateway_token,
                config.sms_sender,
                config.sms_body_template,
            )
            if config.sms_gateway_url
            else SmsFileSink(config.outbox_dir)
        )
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
        """Claim due mails a batch at a time and try each once; returns how many went out.

        One row's failure, whatever it is, never stops the others: it is recorded on the
        row (attempts, next try, last error), logged once, and the pass goes on.
        """
        sent = tried = 0
        while tried < MAX_PER_PASS:
            rows = await self._claim(int(time.time()))
            if not rows:
                break
            tried += len(rows)
            for row in rows:
                sent += await self._send_claimed(row)
        return sent

    async def _claim(self, now: int) -> list[dict[str, object]]:
        """Due rows this sender alone now holds, oldest first."""
        due = (
            "SELECT id, kind, channel, recipient, message, attempts, created_at, created_ns "
            "FROM outbox "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? "
            "ORDER BY created_at, created_ns LIMIT ?"
        )
        if self._db.dialect != "postgresql":
            # One process writes SQLite, and this one sender is its only reader of due
            # rows: reading them is claiming them, without a write lock on every poll.
            return await self._db.fetch_all(due, now, CLAIM_BATCH)
        rows = await self._db.fetch_all(
            "UPDATE outbox SET next_attempt_at = ? WHERE id IN ("
            "SELECT id FROM outbox "
            "WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? "
            "ORDER BY created_at, created_ns LIMIT ? FOR UPDATE SKIP LOCKED) "
            "RETURNING id, kind, channel, recipient, message, attempts, created_at, created_ns",
            now + CLAIM_LEASE_S,
            now,
            CLAIM_BATCH,
        )
        return sorted(rows, key=lambda r: (r["created_at"], r["created_ns"] or 0))

    async def _send_claimed(self, row: dict[str, object]) -> int:
        try:
            if row["channel"] == "sms":
                await self._sms.send_sms(str(row["id"]), str(row["recipient"]), str(row["message"]))
            else:
                await self._deliver(str(row["id"]), str(row["recipient"]), str(row["message"]))
        except asyncio.CancelledError:
            # Stopped mid-send: the row is tried again when its claim runs out.
            raise
        except Exception as exc:
            await self._record_failure(row, exc)
            return 0
        await self._db.execute(
            "UPDATE outbox SET sent_at = ?, attempts = attempts + 1, last_error = NULL "
            "WHERE id = ?",
            int(time.time()),
            row["id"],
        )
        log.info("mail_sent", kind=row["kind"], channel=row["channel"])
        return 1

    async def _record_failure(self, row: dict[str, object], exc: Exception) -> None:
        attempts = int(str(row["attempts"])) + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        final = is_permanent(exc) or attempts >= self._config.mail_max_attempts
        delay = min(
            self._config.mail_retry_base_s * 2 ** (attempts - 1),
            self._config.mail_retry_max_s,
        )
        now = time.time()
        await self._db.execute(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, failed_at = ? "
            "WHERE id = ?",
            attempts,
            int(now + max(delay, 1.0)),
            error,
            int(now) if final else None,
            row["id"],
        )
        expected = isinstance(
            exc, OSError | smtplib.SMTPException | SmsRefused | aiohttp.ClientError
        )
        log.log(
            logging.ERROR if final or not expected else logging.WARNING,
            "mail_failed" if final else "mail_send_failed",
            mail_id=row["id"],
            kind=row["kind"],
            channel=row["channel"],
            attempts=attempts,
            error=error,
            exc_info=not expected,
        )

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
