"""Staff accounts: users, session cookies, CSRF tokens and sign-in.

The session cookie is HttpOnly, so scripts cannot read it; the CSRF token is handed to
the page at login and must come back in ``X-CSRF-Token`` on every unsafe request, which
a foreign site cannot do.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from booking_api.context import BookingContext, context_of
from booking_api.db import Connection, Database, UniqueViolation
from booking_api.errors import ApiError, forbidden, unauthorised
from booking_api.login_throttle import LoginKeys, LoginThrottle
from booking_api.passwords import DUMMY_HASH, hash_password, verify_password
from booking_api.tokens import hash_secret, new_id, new_secret

SESSION_COOKIE = "vg_session"
SESSION_TTL_S = 12 * 3600
ROLES = ("admin", "agent", "partner")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_USER_KEY: web.RequestKey[User | None] = web.RequestKey("booking_api_user", object)  # type: ignore[arg-type]

# Weekday availability given to an agent created without rules: 09:00–12:00, 13:30–17:00.
DEFAULT_AGENT_HOURS = ((9 * 60, 12 * 60), (13 * 60 + 30, 17 * 60))


class AccountExists(ValueError):
    """Another staff account already uses this email address."""


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    name: str
    role: str
    organisation_id: str | None
    service_id: str | None
    partner_point_id: str | None
    csrf_token: str = ""
    active: bool = True

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "role": self.role,
            "organisation_id": self.organisation_id,
            "service_id": self.service_id,
            "partner_point_id": self.partner_point_id,
            "active": self.active,
        }


async def insert_user(
    db: Database,
    *,
    email: str,
    password: str,
    name: str,
    role: str,
    organisation_id: str | None = None,
    service_id: str | None = None,
    partner_point_id: str | None = None,
    user_id: str | None = None,
    default_hours: bool = True,
    weekly_hours: Sequence[tuple[int, int, int]] | None = None,
) -> str:
    """Create a staff account. An agent gets ``weekly_hours`` ((weekday, start minute,
    end minute) triples) or, unless ``default_hours`` is false, office hours on weekdays.
    Raises :class:`AccountExists` if the email is taken."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if role == "agent" and service_id is None:
        services = await db.fetch_all(
            "SELECT id, organisation_id FROM services"
            + (" WHERE organisation_id = ?" if organisation_id else ""),
            *([organisation_id] if organisation_id else []),
        )
        # With exactly one service the agent obviously belongs to it; otherwise the
        # account exists without a service until an administrator assigns one.
        if len(services) == 1:
            service_id = services[0]["id"]
    if service_id is not None and organisation_id is None:
        row = await db.fetch_one("SELECT organisation_id FROM services WHERE id = ?", service_id)
        if row is None:
            raise ValueError("unknown service")
        organisation_id = row["organisation_id"]
    hours: Sequence[tuple[int, int, int]] = ()
    if role == "agent":
        if weekly_hours is not None:
            hours = weekly_hours
        elif default_hours:
            hours = [(day, lo, hi) for day in range(5) for lo, hi in DEFAULT_AGENT_HOURS]
    user_id = user_id or new_id()
    if await db.fetch_one("SELECT id FROM users WHERE email = ?", email.strip().lower()):
        raise AccountExists("an account with this email already exists")
    try:
        async with db.transaction() as tx:
            await _insert_user_rows(
                tx,
                user_id=user_id,
                email=email,
                password=password,
                name=name,
                role=role,
                organisation_id=organisation_id,
                service_id=service_id,
                partner_point_id=partner_point_id,
                weekly_hours=hours,
            )
    except UniqueViolation as exc:  # the same email created concurrently
        raise AccountExists("an account with this email already exists") from exc
    return user_id


async def _insert_user_rows(
    tx: Connection,
    *,
    user_id: str,
    email: str,
    password: str,
    name: str,
    role: str,
    organisation_id: str | None,
    service_id: str | None,
    partner_point_id: str | None,
    weekly_hours: Sequence[tuple[int, int, int]],
) -> None:
    await tx.execute(
        "INSERT INTO users (id, email, password_hash, name, role, organisation_id, "
        "service_id, partner_point_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        user_id,
        email.strip().lower(),
        hash_password(password),
        name,
        role,
        organisation_id,
        service_id,
        partner_point_id,
        int(time.time()),
    )
    for weekday, start_min, end_min in weekly_hours:
        await tx.execute(
            "INSERT INTO availability_rules (id, agent_id, weekday, start_min, end_min) "
            "VALUES (?, ?, ?, ?, ?)",
            new_id(),
            user_id,
            weekday,
            start_min,
            end_min,
        )


def _user(row: dict[str, Any], csrf: str = "") -> User:
    return User(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        organisation_id=row["organisation_id"],
        service_id=row["service_id"],
        partner_point_id=row["partner_point_id"],
        csrf_token=csrf,
        active=bool(row.get("active", 1)),
    )


async def login(ctx: BookingContext, email: str, password: str, client: str) -> tuple[User, str]:
    """Check the credentials; returns the user and a new session token. ``client`` is
    the resolved client address; guessing is limited as :mod:`login_throttle` says."""
    keys = LoginKeys.of(email, client)
    db = ctx.database
    throttle = LoginThrottle(ctx.config, db)
    await throttle.check(keys)
    row = await db.fetch_one("SELECT * FROM users WHERE email = ?", email.strip().lower())
    ok = verify_password(password, row["password_hash"] if row else DUMMY_HASH)
    # A deactivated account is refused like a wrong password: nothing to learn from it.
    if not row or not ok or not row["active"]:
        await throttle.record_failure(keys)
        raise ApiError(401, "bad-credentials", "Adresse email ou mot de passe incorrect.")
    token, csrf = new_secret(), new_secret()
    now = int(time.time())
    await db.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) "
        "VALUES (?, ?, ?, ?, ?)",
        hash_secret(token),
        row["id"],
        csrf,
        now,
        now + SESSION_TTL_S,
    )
    await db.execute("DELETE FROM sessions WHERE expires_at < ?", now)
    return _user(row, csrf), token


def set_session_cookie(ctx: BookingContext, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_TTL_S,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=ctx.config.public_base_url.startswith("https://"),
    )


async def logout(request: web.Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        await context_of(request).database.execute(
            "DELETE FROM sessions WHERE token_hash = ?", hash_secret(token)
        )


async def session_user(request: web.Request) -> User | None:
    """The user of the request's session cookie, if it is valid."""
    if _USER_KEY in request:
        user: User | None = request[_USER_KEY]
        return user
    user = None
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        row = await context_of(request).database.fetch_one(
            "SELECT u.*, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id "
            "WHERE s.token_hash = ? AND s.expires_at > ? AND u.active = 1",
            hash_secret(token),
            int(time.time()),
        )
        if row:
            user = _user(row, row["csrf_token"])
    request[_USER_KEY] = user
    return user


def check_csrf(request: web.Request, user: User) -> None:
    if request.method in UNSAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent or not hmac.compare_digest(sent, user.csrf_token):
            raise ApiError(
                403, "csrf", "Jeton anti-falsification (X-CSRF-Token) manquant ou invalide."
            )


async def require_user(request: web.Request, *roles: str) -> User:
    """The signed-in user, with a role among ``roles`` (any if none given) and a valid
    CSRF header on unsafe methods."""
    user = await session_user(request)
    if user is None:
        raise unauthorised()
    check_csrf(request, user)
    if roles and user.role not in roles:
        raise forbidden("Votre rôle ne permet pas cette action.")
    return user
