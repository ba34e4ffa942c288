"""Demo data for ``visioguichet serve --demo``: one organisation, one service, three
motifs (one not offered by video) and one agent on duty every day around the clock, public
holidays included, so that booking and the instant queue can be shown whenever the
demonstration runs.

Demo accounts (public, demo only): agent ``agent@demo.visioguichet.fr`` /
``demo-agent-2026``; partner point staff ``accueil@demo.visioguichet.fr`` /
``demo-partner-2026``; administrator ``admin@demo.visioguichet.fr`` / ``demo-admin-2026``.
"""

from __future__ import annotations

import time

import structlog

from booking_api.auth import insert_user
from booking_api.db import Database
from booking_api.public_holidays import NO_CALENDAR

log = structlog.get_logger(__name__)

DEMO_ORGANISATION_ID = "demo-caf"
DEMO_SERVICE_ID = "demo-caf-prestations"
DEMO_AGENT_ID = "demo-agent"
DEMO_AGENT_EMAIL = "agent@demo.visioguichet.fr"
DEMO_AGENT_PASSWORD = "demo-agent-2026"
DEMO_PARTNER_POINT_ID = "demo-france-services"
DEMO_PARTNER_EMAIL = "accueil@demo.visioguichet.fr"
DEMO_PARTNER_PASSWORD = "demo-partner-2026"
DEMO_ADMIN_EMAIL = "admin@demo.visioguichet.fr"
DEMO_ADMIN_PASSWORD = "demo-admin-2026"

DEMO_MOTIFS = (
    # id, label, duration, channels, notice (min), horizon (days), buffer (min)
    ("demo-motif-info", "Information sur vos droits", 20, "video,phone", 30, 30, 0),
    (
        "demo-motif-dossier",
        "Aide à la constitution d’un dossier",
        30,
        "video,phone,in-person",
        60,
        30,
        10,
    ),
    ("demo-motif-pieces", "Dépôt de pièces justificatives", 15, "in-person", 60, 30, 0),
)


async def seed_demo(db: Database) -> bool:
    """Insert the demo data unless already there; True if inserted."""
    if await db.fetch_one("SELECT id FROM organisations WHERE id = ?", DEMO_ORGANISATION_ID):
        return False
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            # Several nodes may start together on one database: one seeds, the others
            # wait for it and then find the data there (as the migrations do).
            await tx.execute("SELECT pg_advisory_xact_lock(727275)")
            if await tx.fetch_one(
                "SELECT id FROM organisations WHERE id = ?", DEMO_ORGANISATION_ID
            ):
                return False
        await tx.execute(
            # Open on public holidays too: the demonstration works whatever the day.
            "INSERT INTO organisations (id, name, created_at, holiday_calendar) "
            "VALUES (?, ?, ?, ?)",
            DEMO_ORGANISATION_ID,
            "Caisse d'allocations familiales de démonstration",
            int(time.time()),
            NO_CALENDAR,
        )
        await tx.execute(
            "INSERT INTO services (id, organisation_id, name) VALUES (?, ?, ?)",
            DEMO_SERVICE_ID,
            DEMO_ORGANISATION_ID,
            "Accueil des allocataires",
        )
        for motif_id, label, duration, channels, notice, horizon, buffer in DEMO_MOTIFS:
            await tx.execute(
                "INSERT INTO motifs (id, service_id, label, duration_min, channels, notice_min, "
                "horizon_days, buffer_min, needs_review, active) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 1)",
                motif_id,
                DEMO_SERVICE_ID,
                label,
                duration,
                channels,
                notice,
                horizon,
                buffer,
            )
        await tx.execute(
            "INSERT INTO partner_points (id, organisation_id, name, address) VALUES (?, ?, ?, ?)",
            DEMO_PARTNER_POINT_ID,
            DEMO_ORGANISATION_ID,
            "France Services de démonstration",
            "1 place de la Mairie, 00000 Démoville",
        )
    await insert_user(
        db,
        email=DEMO_PARTNER_EMAIL,
        password=DEMO_PARTNER_PASSWORD,
        name="Accueil France Services",
        role="partner",
        organisation_id=DEMO_ORGANISATION_ID,
        partner_point_id=DEMO_PARTNER_POINT_ID,
    )
    await insert_user(
        db,
        email=DEMO_ADMIN_EMAIL,
        password=DEMO_ADMIN_PASSWORD,
        name="Responsable démonstration",
        role="admin",
        organisation_id=DEMO_ORGANISATION_ID,
    )
    await insert_user(
        db,
        email=DEMO_AGENT_EMAIL,
        password=DEMO_AGENT_PASSWORD,
        name="Camille Martin",
        role="agent",
        service_id=DEMO_SERVICE_ID,
        user_id=DEMO_AGENT_ID,
        weekly_hours=[(weekday, 0, 24 * 60) for weekday in range(7)],
    )
    log.info("demo_data_seeded")
    return True
