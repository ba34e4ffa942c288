"""The instant queue: a citizen (or a partner point) asks for a call now; agents of the
service watch the queue live and take the first request.

Taking is a conditional UPDATE (``status = 'waiting'``), so two agents clicking together
cannot both get the same person. An instant call becomes a booking (room = booking id)
without claiming agenda time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from booking_api import links
from booking_api.availability import available_agents
from booking_api.bookings import ACTIVE, load_booking
from booking_api.catalogue import Motif
from booking_api.context import BookingContext
from booking_api.db import Database
from booking_api.tokens import hash_secret, new_id, new_secret


@dataclass(frozen=True, slots=True)
class Waiting:
    id: str
    motif_id: str
    motif_label: str
    citizen_name: str | None
    partner_point_id: str | None
    created_at_ms: int

    def public(self, position: int) -> dict[str, Any]:
        return {
            "id": self.id,
            "motif": {"id": self.motif_id, "label": self.motif_label},
            "citizen_name": self.citizen_name,
            "partner_point_id": self.partner_point_id,
            "waiting_since_ms": self.created_at_ms,
            "position": position,
        }


def _now_ms() -> int:
    return int(time.time() * 1000)


async def enqueue(
    db: Database, motif: Motif, citizen_name: str, partner_point_id: str | None
) -> tuple[str, str]:
    """Returns (request id, wait token)."""
    request_id, wait_token = new_id(), new_secret()
    now = _now_ms()
    await db.execute(
        "INSERT INTO queue_requests (id, motif_id, status, citizen_name, partner_point_id, "
        "wait_token_hash, created_at, last_seen_at) VALUES (?, ?, 'waiting', ?, ?, ?, ?, ?)",
        request_id,
        motif.id,
        citizen_name,
        partner_point_id,
        hash_secret(wait_token),
        now,
        now,
    )
    return request_id, wait_token


async def seen(db: Database, request_id: str) -> None:
    """The waiting page asked for its status: the person is still there."""
    await db.execute(
        "UPDATE queue_requests SET last_seen_at = ? WHERE id = ? AND status = 'waiting'",
        _now_ms(),
        request_id,
    )


async def waiting_for_service(
    db: Database, service_id: str, stale_after_s: float | None = None
) -> list[Waiting]:
    """Who waits, longest first; with ``stale_after_s``, only those whose page asked for
    its status within that time (a closed tab no longer waits)."""
    since = _now_ms() - int(stale_after_s * 1000) if stale_after_s is not None else 0
    rows = await db.fetch_all(
        "SELECT q.id, q.motif_id, m.label, q.citizen_name, q.partner_point_id, q.created_at "
        "FROM queue_requests q JOIN motifs m ON m.id = q.motif_id "
        "WHERE q.status = 'waiting' AND m.service_id = ? "
        "AND COALESCE(q.last_seen_at, q.created_at) >= ? ORDER BY q.created_at, q.id",
        service_id,
        since,
    )
    return [
        Waiting(r["id"], r["motif_id"], r["label"], r["citizen_name"], r["partner_point_id"],
                int(r["created_at"]))
        for r in rows
    ]  # fmt: skip


async def request_by_token(db: Database, wait_token: str) -> dict[str, Any] | None:
    return await db.fetch_one(
        "SELECT q.*, m.service_id FROM queue_requests q JOIN motifs m ON m.id = q.motif_id "
        "WHERE q.wait_token_hash = ?",
        hash_secret(wait_token),
    )


async def status_for_waiting_side(ctx: BookingContext, row: dict[str, Any]) -> dict[str, Any]:
    db = ctx.database
    body: dict[str, Any] = {"id": row["id"], "status": row["status"], "position": None,
                            "join_url": None}  # fmt: skip
    if row["status"] == "waiting":
        await seen(db, row["id"])
        stale_s = ctx.config.queue_stale_after_s
        ahead = [w.id for w in await waiting_for_service(db, row["service_id"], stale_s)]
        body["position"] = ahead.index(row["id"]) + 1 if row["id"] in ahead else None
        # Nobody available now: the page can offer an appointment instead of a long wait.
        available = await available_agents(db, row["service_id"], datetime.now(UTC))
        body["agents_available"] = len(available)
    elif row["status"] == "taken" and row["booking_id"]:
        booking = await load_booking(db, row["booking_id"])
        if booking is not None and booking.status == ACTIVE:
            body["join_url"] = await links.guest_join_url(ctx, db, booking)
    return body


async def take_first(ctx: BookingContext, agent_id: str, service_id: str) -> tuple[str, str] | None:
    """Give the longest-waiting request of the service to the agent; returns
    (queue request id, booking id) or None if nobody waits."""
    db = ctx.database
    for candidate in await waiting_for_service(db, service_id, ctx.config.queue_stale_after_s):
        booking_id = new_id()
        async with db.transaction() as tx:
            taken = await tx.execute(
                "UPDATE queue_requests SET status = 'taken', taken_at = ? "
                "WHERE id = ? AND status = 'waiting'",
                _now_ms(),
                candidate.id,
            )
            if taken != 1:
                continue  # another agent was faster; try the next person
            motif = await tx.fetch_one(
                "SELECT duration_min FROM motifs WHERE id = ?", candidate.motif_id
            )
            now = int(time.time())
            duration = int(motif["duration_min"]) * 60 if motif else 1800
            await tx.execute(
                "INSERT INTO bookings (id, motif_id, agent_id, start_at, end_at, status, "
                "channel, booked_by, partner_point_id, citizen_name, locale, "
                "manage_token_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'video', ?, ?, ?, 'fr', ?, ?)",
                booking_id,
                candidate.motif_id,
                agent_id,
                now,
                now + duration,
                ACTIVE,
                "partner" if candidate.partner_point_id else "self",
                candidate.partner_point_id,
                candidate.citizen_name,
                hash_secret(new_secret()),
                now,
            )
            await tx.execute(
                "UPDATE queue_requests SET booking_id = ? WHERE id = ?", booking_id, candidate.id
            )
        return candidate.id, booking_id
    return None


async def leave(db: Database, request_id: str) -> bool:
    return (
        await db.execute(
            "UPDATE queue_requests SET status = 'left' WHERE id = ? AND status = 'waiting'",
            request_id,
        )
        == 1
    )
