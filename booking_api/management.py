"""An administrator's own organisation: services, motifs, agents and partner points.

Every read and write is bounded by ``organisation_id``: a row of another organisation is
reported as absent, never changed. Motifs and accounts are deactivated, not deleted,
because past bookings and statistics still point at them.
"""

from __future__ import annotations

import time
from typing import Any

from booking_api.auth import AccountExists, insert_user
from booking_api.bookings import OPEN
from booking_api.db import Database, Row
from booking_api.errors import ApiError, not_found
from booking_api.tokens import new_id


def email_taken() -> ApiError:
    return ApiError(
        409, "email-taken", "Cette adresse est déjà utilisée.",
        {"email": "Un compte existe déjà avec cette adresse."},
    )  # fmt: skip


# --- services -------------------------------------------------------------------


def _motif(row: Row) -> dict[str, Any]:
    channels = [c for c in str(row["channels"]).split(",") if c]
    return {
        "id": row["id"],
        "service_id": row["service_id"],
        "label": row["label"],
        "duration_min": int(row["duration_min"]),
        "channels": channels,
        "video": "video" in channels,
        "notice_min": int(row["notice_min"]),
        "horizon_days": int(row["horizon_days"]),
        "buffer_min": int(row["buffer_min"]),
        "needs_review": bool(row["needs_review"]),
        "active": bool(row["active"]),
    }


async def list_services(db: Database, organisation_id: str) -> list[dict[str, Any]]:
    services = await db.fetch_all(
        "SELECT id, name FROM services WHERE organisation_id = ? ORDER BY name", organisation_id
    )
    motifs = await db.fetch_all(
        "SELECT m.* FROM motifs m JOIN services s ON s.id = m.service_id "
        "WHERE s.organisation_id = ? ORDER BY m.label",
        organisation_id,
    )
    return [
        {
            "id": s["id"],
            "name": s["name"],
            "motifs": [_motif(m) for m in motifs if m["service_id"] == s["id"]],
        }
        for s in services
    ]


async def service_of_organisation(db: Database, service_id: str, organisation_id: str) -> Row:
    row = await db.fetch_one(
        "SELECT id, name FROM services WHERE id = ? AND organisation_id = ?",
        service_id,
        organisation_id,
    )
    if row is None:
        raise not_found("Service introuvable.")
    return row


async def create_service(db: Database, organisation_id: str, name: str) -> dict[str, Any]:
    service_id = new_id()
    await db.execute(
        "INSERT INTO services (id, organisation_id, name) VALUES (?, ?, ?)",
        service_id,
        organisation_id,
        name,
    )
    return {"id": service_id, "name": name, "motifs": []}


async def rename_service(db: Database, service_id: str, name: str) -> None:
    await db.execute("UPDATE services SET name = ? WHERE id = ?", name, service_id)


# --- motifs ---------------------------------------------------------------------


async def motif_of_organisation(db: Database, motif_id: str, organisation_id: str) -> Row:
    row = await db.fetch_one(
        "SELECT m.* FROM motifs m JOIN services s ON s.id = m.service_id "
        "WHERE m.id = ? AND s.organisation_id = ?",
        motif_id,
        organisation_id,
    )
    if row is None:
        raise not_found("Motif introuvable.")
    return row


def _motif_columns(values: dict[str, Any]) -> dict[str, Any]:
    columns = dict(values)
    if "channels" in columns:
        columns["channels"] = ",".join(columns["channels"])
    for flag in ("needs_review", "active"):
        if flag in columns:
            columns[flag] = 1 if columns[flag] else 0
    return columns


async def create_motif(db: Database, service_id: str, values: dict[str, Any]) -> dict[str, Any]:
    columns = _motif_columns(values) | {"id": new_id(), "service_id": service_id}
    names = sorted(columns)
    await db.execute(
        f"INSERT INTO motifs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
        *[columns[n] for n in names],
    )
    row = await db.fetch_one("SELECT * FROM motifs WHERE id = ?", columns["id"])
    assert row is not None
    return _motif(row)


async def update_motif(db: Database, motif_id: str, values: dict[str, Any]) -> dict[str, Any]:
    columns = _motif_columns(values)
    if columns:
        names = sorted(columns)  # only names from parse_motif reach the SQL
        await db.execute(
            f"UPDATE motifs SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
            *[columns[n] for n in names],
            motif_id,
        )
    row = await db.fetch_one("SELECT * FROM motifs WHERE id = ?", motif_id)
    assert row is not None
    return _motif(row)


# --- staff accounts ---------------------------------------------------------------


def _account(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "name": row["name"],
        "email": row["email"],
        "role": row["role"],
        "service_id": row["service_id"],
        "partner_point_id": row["partner_point_id"],
        "active": bool(row["active"]),
    }


async def list_agents(db: Database, organisation_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT * FROM users WHERE role = 'agent' AND organisation_id = ? ORDER BY name",
        organisation_id,
    )
    now = int(time.time())
    result = []
    for row in rows:
        coming = await db.fetch_one(
            "SELECT COUNT(*) AS n FROM bookings WHERE agent_id = ? AND status IN (?, ?) "
            "AND start_at > ?",
            row["id"],
            *OPEN,
            now,
        )
        result.append(_account(row) | {"upcoming_bookings": int(coming["n"]) if coming else 0})
    return result


async def create_account(
    db: Database,
    organisation_id: str,
    account: dict[str, Any],
    *,
    role: str,
    service_id: str | None = None,
    partner_point_id: str | None = None,
) -> dict[str, Any]:
    try:
        user_id = await insert_user(
            db,
            email=account["email"],
            password=account["password"],
            name=account["name"],
            role=role,
            organisation_id=organisation_id,
            service_id=service_id,
            partner_point_id=partner_point_id,
        )
    except AccountExists as exc:
        raise email_taken() from exc
    return await account_of_organisation(db, user_id, organisation_id, role)


async def account_of_organisation(
    db: Database, user_id: str, organisation_id: str, role: str
) -> dict[str, Any]:
    row = await db.fetch_one(
        "SELECT * FROM users WHERE id = ? AND organisation_id = ? AND role = ?",
        user_id,
        organisation_id,
        role,
    )
    if row is None:
        raise not_found("Compte introuvable.")
    return _account(row)


async def update_account(
    db: Database, user_id: str, *, name: str | None, service_id: str | None, active: bool | None
) -> None:
    async with db.transaction() as tx:
        if name is not None:
            await tx.execute("UPDATE users SET name = ? WHERE id = ?", name, user_id)
        if service_id is not None:
            await tx.execute("UPDATE users SET service_id = ? WHERE id = ?", service_id, user_id)
        if active is not None:
            await tx.execute("UPDATE users SET active = ? WHERE id = ?", int(active), user_id)
            if not active:  # signed out everywhere at once
                await tx.execute("DELETE FROM sessions WHERE user_id = ?", user_id)


# --- partner points -------------------------------------------------------------


async def list_partner_points(db: Database, organisation_id: str) -> list[dict[str, Any]]:
    points = await db.fetch_all(
        "SELECT id, name, address FROM partner_points WHERE organisation_id = ? ORDER BY name",
        organisation_id,
    )
    staff = await db.fetch_all(
        "SELECT * FROM users WHERE role = 'partner' AND organisation_id = ? ORDER BY name",
        organisation_id,
    )
    return [
        {
            "id": p["id"],
            "name": p["name"],
            "address": p["address"],
            "staff": [_account(u) for u in staff if u["partner_point_id"] == p["id"]],
        }
        for p in points
    ]


async def point_of_organisation(db: Database, point_id: str, organisation_id: str) -> Row:
    row = await db.fetch_one(
        "SELECT id, name, address FROM partner_points WHERE id = ? AND organisation_id = ?",
        point_id,
        organisation_id,
    )
    if row is None:
        raise not_found("Point partenaire introuvable.")
    return row


async def create_partner_point(
    db: Database, organisation_id: str, values: dict[str, Any]
) -> dict[str, Any]:
    point_id = new_id()
    await db.execute(
        "INSERT INTO partner_points (id, organisation_id, name, address) VALUES (?, ?, ?, ?)",
        point_id,
        organisation_id,
        values["name"],
        values["address"],
    )
    return {"id": point_id, "name": values["name"], "address": values["address"], "staff": []}


async def update_partner_point(db: Database, point_id: str, values: dict[str, Any]) -> None:
    for column in ("name", "address"):  # fixed column names, never from the request
        if column in values:
            await db.execute(
                f"UPDATE partner_points SET {column} = ? WHERE id = ?", values[column], point_id
            )
