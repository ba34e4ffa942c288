"""Join and manage links. Secrets travel in the URL fragment, which browsers never send
to the server, so they stay out of access logs."""

from __future__ import annotations

import time

from booking_api.booking_records import BookingRecord
from booking_api.context import BookingContext
from booking_api.db import Connection, Database
from booking_api.join_gate import join_window
from booking_api.tokens import hash_secret


def join_url(ctx: BookingContext, token: str) -> str:
    return f"{ctx.config.public_base_url}/call#token={token}"


def manage_url(ctx: BookingContext, manage_token: str) -> str:
    return f"{ctx.config.public_base_url}/manage#token={manage_token}"


async def mint_join_token(
    ctx: BookingContext,
    db: Database | Connection,
    booking: BookingRecord,
    *,
    role: str,
    subject: str,
    name: str,
) -> str:
    """A signed token for the booking's room, valid over the booking's join window; its
    hash is kept so the token can later prove that its bearer takes part in this booking
    (document exchange)."""
    not_before, expires_at = join_window(booking.start, booking.end, role)
    token = ctx.join_tokens.mint(
        room=booking.id,
        role=role,
        subject=subject,
        name=name,
        expires_at=expires_at,
        not_before=not_before,
        lobby=role == "guest",
        extra={"motif": booking.motif_label},
    )
    await db.execute(
        "INSERT INTO issued_join_tokens (token_hash, booking_id, role, expires_at, subject) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING",
        hash_secret(token),
        booking.id,
        role,
        int(expires_at),
        subject,
    )
    return token


async def guest_join_url(
    ctx: BookingContext, db: Database | Connection, booking: BookingRecord
) -> str:
    token = await mint_join_token(
        ctx,
        db,
        booking,
        role="guest",
        subject=f"citizen:{booking.id}",
        name=booking.citizen_name or "Usager",
    )
    return join_url(ctx, token)


async def booking_for_join_token(db: Database, token: str) -> tuple[str, str] | None:
    """(booking id, who) for a token we minted and that has not expired: who is
    ``citizen``, ``invited`` (a guest the agent or the citizen asked in) or the role."""
    row = await db.fetch_one(
        "SELECT booking_id, role, subject FROM issued_join_tokens "
        "WHERE token_hash = ? AND expires_at > ?",
        hash_secret(token),
        int(time.time()),
    )
    if row is None:
        return None
    if row["role"] != "guest":
        return row["booking_id"], row["role"]
    invited = str(row["subject"] or "").startswith("guest:")
    return row["booking_id"], "invited" if invited else "citizen"
