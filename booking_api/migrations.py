"""Versioned schema migrations, applied in order at start-up and by ``visioguichet migrate``.

Each version is a list of statements in SQL that SQLite and PostgreSQL both accept.
Times are UTC epoch seconds (BIGINT). A version is recorded in ``schema_migrations``
in the same transaction that applies it, so a crash never leaves half a version.
"""

from __future__ import annotations

import time

import structlog

from booking_api.db import Database

log = structlog.get_logger(__name__)

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE organisations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )""",
        """CREATE TABLE services (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            name TEXT NOT NULL
        )""",
        """CREATE TABLE motifs (
            id TEXT PRIMARY KEY,
            service_id TEXT NOT NULL REFERENCES services(id),
            label TEXT NOT NULL,
            duration_min INTEGER NOT NULL,
            channels TEXT NOT NULL,
            notice_min INTEGER NOT NULL DEFAULT 60,
            horizon_days INTEGER NOT NULL DEFAULT 60,
            buffer_min INTEGER NOT NULL DEFAULT 0,
            needs_review INTEGER NOT NULL DEFAULT 0,
            active INTEGER NOT NULL DEFAULT 1
        )""",
        """CREATE TABLE partner_points (
            id TEXT PRIMARY KEY,
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            name TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE,
            password_hash TEXT NOT NULL,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            organisation_id TEXT REFERENCES organisations(id),
            service_id TEXT REFERENCES services(id),
            partner_point_id TEXT REFERENCES partner_points(id),
            created_at BIGINT NOT NULL
        )""",
        """CREATE TABLE availability_rules (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL REFERENCES users(id),
            weekday INTEGER NOT NULL,
            start_min INTEGER NOT NULL,
            end_min INTEGER NOT NULL
        )""",
        """CREATE TABLE absences (
            id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL REFERENCES users(id),
            start_at BIGINT NOT NULL,
            end_at BIGINT NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE bookings (
            id TEXT PRIMARY KEY,
            motif_id TEXT NOT NULL REFERENCES motifs(id),
            agent_id TEXT NOT NULL REFERENCES users(id),
            start_at BIGINT NOT NULL,
            end_at BIGINT NOT NULL,
            status TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT 'video',
            booked_by TEXT NOT NULL,
            booked_by_user_id TEXT,
            partner_point_id TEXT REFERENCES partner_points(id),
            consent_at BIGINT,
            citizen_name TEXT,
            citizen_email TEXT,
            citizen_phone TEXT,
            locale TEXT NOT NULL DEFAULT 'fr',
            manage_token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            cancelled_at BIGINT,
            outcome_at BIGINT,
            reminder_sent_at BIGINT,
            purged_at BIGINT
        )""",
        "CREATE INDEX bookings_agent_start ON bookings(agent_id, start_at)",
        "CREATE INDEX bookings_motif_start ON bookings(motif_id, start_at)",
        # One row per 5-minute block an active booking occupies (its buffer included):
        # the primary key is what lets exactly one of two racing bookings win.
        """CREATE TABLE agent_busy_blocks (
            agent_id TEXT NOT NULL REFERENCES users(id),
            block BIGINT NOT NULL,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            PRIMARY KEY (agent_id, block)
        )""",
        "CREATE INDEX agent_busy_blocks_booking ON agent_busy_blocks(booking_id)",
        """CREATE TABLE issued_join_tokens (
            token_hash TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            role TEXT NOT NULL,
            expires_at BIGINT NOT NULL
        )""",
        """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            csrf_token TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL
        )""",
        """CREATE TABLE outbox (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            booking_id TEXT,
            recipient TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at BIGINT NOT NULL,
            sent_at BIGINT,
            last_error TEXT
        )""",
        "CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at)",
        """CREATE TABLE call_events (
            id TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX call_events_booking ON call_events(booking_id, at)",
        """CREATE TABLE survey_answers (
            booking_id TEXT PRIMARY KEY REFERENCES bookings(id),
            score INTEGER NOT NULL,
            answered_at BIGINT NOT NULL
        )""",
        """CREATE TABLE booking_files (
            id TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            file_name TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            uploaded_by TEXT NOT NULL,
            uploaded_at BIGINT NOT NULL
        )""",
        """CREATE TABLE login_failures (
            id TEXT PRIMARY KEY,
            key TEXT NOT NULL,
            at BIGINT NOT NULL
        )""",
        "CREATE INDEX login_failures_key ON login_failures(key, at)",
        """CREATE TABLE queue_requests (
            id TEXT PRIMARY KEY,
            motif_id TEXT NOT NULL REFERENCES motifs(id),
            status TEXT NOT NULL,
            citizen_name TEXT,
            partner_point_id TEXT REFERENCES partner_points(id),
            wait_token_hash TEXT NOT NULL UNIQUE,
            booking_id TEXT REFERENCES bookings(id),
            created_at BIGINT NOT NULL,
            taken_at BIGINT
        )""",
    ],
    2: [
        # Staff accounts can be deactivated (kept for history, never able to sign in).
        "ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX availability_rules_agent ON availability_rules(agent_id)",
        "CREATE INDEX absences_agent ON absences(agent_id, start_at)",
        # The survey's optional free-text comment (erased with the citizen's data).
        "ALTER TABLE survey_answers ADD COLUMN comment TEXT",
    ],
    3: [
        # Which public-holiday calendar closes the organisation (booking_api.public_holidays).
        "ALTER TABLE organisations ADD COLUMN holiday_calendar TEXT NOT NULL DEFAULT 'FR'",
        # Days the organisation closes on top of public holidays (a "pont", a strike day);
        # ``day`` is a Paris date as YYYY-MM-DD. One row per day: the key refuses a duplicate.
        """CREATE TABLE closure_days (
            organisation_id TEXT NOT NULL REFERENCES organisations(id),
            day TEXT NOT NULL,
            label TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (organisation_id, day)
        )""",
    ],
    4: [
        # The order mails were written in: created_at has one-second resolution, and a
        # confirmation and a reschedule notice can share a second. Sent (and listed) in
        # (created_at, created_ns) order; rows older than this version have NULL here.
        "ALTER TABLE outbox ADD COLUMN created_ns BIGINT",
    ],
    5: [
        # A mail the server refused for good (5xx) or that failed mail_max_attempts times
        # is marked here and no longer retried, so an operator can list and act on it.
        "ALTER TABLE outbox ADD COLUMN failed_at BIGINT",
    ],
    6: [
        # When the waiting page last asked for its status (ms): a request whose page
        # stopped asking (tab closed, phone asleep) leaves the agents' queue.
        "ALTER TABLE queue_requests ADD COLUMN last_seen_at BIGINT",
    ],
    7: [
        # An outbox row is a mail or an SMS (recipient in E.164, message the text).
        "ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email'",
        # The SMS reminder shortly before the appointment (the day-before one is
        # reminder_sent_at); claimed by the update that queues it, as that one.
        "ALTER TABLE bookings ADD COLUMN soon_reminder_sent_at BIGINT",
        # Short links in SMS (booking_api.short_links): found by the code's hash, the
        # link sealed with a key derived from the code; purged with the booking.
        """CREATE TABLE short_links (
            code_hash TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            sealed_target TEXT NOT NULL,
            created_at BIGINT NOT NULL
        )""",
        "CREATE INDEX short_links_booking ON short_links(booking_id)",
    ],
    8: [
        # The operator's identity shown on every citizen page and in the mails (one row,
        # id 'site'); a NULL keeps the value of the flags. The logo is the re-encoded
        # PNG, base64 (a column both engines read alike, shared by every node).
        # accessibility_status is the RGAA level the footer and statement declare.
        """CREATE TABLE site_identity (
            id TEXT PRIMARY KEY,
            name TEXT,
            colour TEXT,
            logo_png TEXT,
            logo_alt TEXT,
            accessibility_status TEXT,
            updated_at BIGINT NOT NULL
        )""",
        # The legal pages' texts as the administrator wrote them (plain text with a few
        # marks, rendered escaped); a page without a row shows its default.
        """CREATE TABLE legal_pages (
            page TEXT PRIMARY KEY,
            body TEXT NOT NULL,
            updated_at BIGINT NOT NULL
        )""",
    ],
    9: [
        # A third (or fourth) person in a booking's call: an interpreter, colleague or
        # relative the agent invites, or a companion the citizen names when booking
        # (who gets their own link by mail or SMS). Purged with the booking.
        """CREATE TABLE call_guests (
            id TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            kind TEXT NOT NULL,
            name TEXT,
            email TEXT,
            phone TEXT,
            invited_by TEXT,
            created_at BIGINT NOT NULL,
            created_ns BIGINT NOT NULL
        )""",
        "CREATE INDEX call_guests_booking ON call_guests(booking_id)",
        # "Call me back": the number (E.164) a citizen whose video failed asked to be
        # called at, until an agent marks it done. Purged with the booking.
        """CREATE TABLE callback_requests (
            id TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            phone TEXT,
            moment TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            done_at BIGINT,
            done_by TEXT
        )""",
        "CREATE INDEX callback_requests_open ON callback_requests(done_at, created_at)",
        "CREATE INDEX callback_requests_booking ON callback_requests(booking_id)",
        # The call's written messages, kept with the call record for the agent (the
        # citizen does not see them again after the call). Purged with the booking.
        """CREATE TABLE call_chat (
            id TEXT PRIMARY KEY,
            booking_id TEXT NOT NULL REFERENCES bookings(id),
            sent_at BIGINT NOT NULL,
            sent_ns BIGINT NOT NULL,
            author_name TEXT,
            author_role TEXT NOT NULL,
            body TEXT
        )""",
        "CREATE INDEX call_chat_booking ON call_chat(booking_id, sent_ns)",
    ],
    10: [
        # Whom a join token was minted for ("citizen:…", "guest:…", "agent:…"): an invited
        # interpreter or relative holds a guest token too, but is not the citizen (the
        # survey is the citizen's). NULL on older rows: a guest token was the citizen's.
        "ALTER TABLE issued_join_tokens ADD COLUMN subject TEXT",
    ],
}

LATEST_VERSION = max(MIGRATIONS)


async def applied_version(db: Database) -> int:
    await db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)"
    )
    row = await db.fetch_one("SELECT MAX(version) AS version FROM schema_migrations")
    return int(row["version"]) if row and row["version"] is not None else 0


async def apply_migrations(db: Database) -> int:
    """Bring the schema to the latest version; returns the version reached."""
    current = await applied_version(db)
    for version in sorted(v for v in MIGRATIONS if v > current):
        try:
            async with db.transaction() as tx:
                if db.dialect == "postgresql":
                    # Several nodes may start together: one migrates, the others wait.
                    await tx.execute("SELECT pg_advisory_xact_lock(727274)")
                    row = await tx.fetch_one(
                        "SELECT 1 AS done FROM schema_migrations WHERE version = ?", version
                    )
                    if row:
                        continue
                for statement in MIGRATIONS[version]:
                    await tx.execute(statement)
                await tx.execute(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                    version,
                    int(time.time()),
                )
        except Exception:
            log.error("migration_failed", version=version)
            raise
        log.info("migration_applied", version=version)
    return LATEST_VERSION
