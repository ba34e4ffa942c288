"""Who runs this site: the operator's name, colour and logo, and the accessibility level
it declares. Shown in the header and footer of every citizen page and in the mails.

Flags give the first values (``--operator-name``…); an administrator's choices, kept in
one row of ``site_identity``, win over them, and clearing one falls back to the flag.
Whether the operator may show the State's marks (Marianne, the « République française »
block and font) is a flag only: it is a legal entitlement of the deployer, not a
preference of whoever administers the site.

Pages read the identity on every request, from a copy kept :data:`FRESH_FOR_S`: a
change made on this node shows at once, on another node within that time.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass

from booking_api.config import BookingConfig
from booking_api.db import Connection, Database

SITE_ROW = "site"
FRESH_FOR_S = 5.0
MAX_NAME = 120
# The RGAA's three levels; without an audit the law says « non conforme ».
ACCESSIBILITY_LEVELS = ("non", "partiellement", "totalement")
ACCESSIBILITY_LABELS = {
    "non": "non conforme",
    "partiellement": "partiellement conforme",
    "totalement": "totalement conforme",
}
# Text on the colour (buttons) and the colour on white (links) both need 4.5:1 (WCAG AA).
MIN_CONTRAST = 4.5
# The State's blue (« bleu France ») is one of the marks of the State's brand: it is the
# default only of an operator entitled to them; any other gets a blue of its own.
STATE_BLUE = "#000091"
OWN_BLUE = "#0b4fa3"


@dataclass(frozen=True, slots=True)
class SiteIdentity:
    name: str
    colour: str
    logo_png: bytes | None
    logo_alt: str
    accessibility_status: str
    state_marks: bool
    revision: int  # ms of the last change; 0 for the flags' values

    @property
    def accessibility_label(self) -> str:
        return ACCESSIBILITY_LABELS[self.accessibility_status]

    def public(self) -> dict[str, object]:
        """What ``GET /api/site`` says (the logo by its address)."""
        return {
            "name": self.name,
            "colour": self.colour,
            "logo_url": f"/api/site/logo?v={self.revision}" if self.logo_png else None,
            "logo_alt": self.logo_alt,
            "accessibility_status": self.accessibility_status,
            "accessibility_label": self.accessibility_label,
            "state_marks": self.state_marks,
        }


def _linear(channel: int) -> float:
    c = channel / 255
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def contrast_with_white(colour: str) -> float:
    """WCAG contrast ratio of ``#rrggbb`` against white."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    luminance = 0.2126 * _linear(r) + 0.7152 * _linear(g) + 0.0722 * _linear(b)
    return 1.05 / (luminance + 0.05)


def identity_from(config: BookingConfig, row: dict[str, object] | None) -> SiteIdentity:
    """The flags' values overlaid with the administrator's row."""
    row = row or {}
    name = str(row.get("name") or config.operator_name)
    logo_text = row.get("logo_png")
    logo = base64.b64decode(str(logo_text)) if logo_text else config.operator_logo_png
    return SiteIdentity(
        name=name,
        colour=str(
            row.get("colour")
            or config.operator_colour
            or (STATE_BLUE if config.state_marks else OWN_BLUE)
        ),
        logo_png=logo,
        logo_alt=str(row.get("logo_alt") or name),
        accessibility_status=str(row.get("accessibility_status") or "non"),
        state_marks=config.state_marks,
        revision=int(str(row.get("updated_at") or 0)),
    )


async def load_identity(db: Database | Connection, config: BookingConfig) -> SiteIdentity:
    row = await db.fetch_one("SELECT * FROM site_identity WHERE id = ?", SITE_ROW)
    return identity_from(config, row)


async def save_identity(db: Database, changes: dict[str, str | bytes | None]) -> None:
    """Set the given columns (``None`` clears one back to the flag's value)."""
    values = {
        key: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
        for key, value in changes.items()
    }
    now = time.time_ns() // 1_000_000
    async with db.transaction() as tx:
        row = await tx.fetch_one("SELECT updated_at FROM site_identity WHERE id = ?", SITE_ROW)
        # Strictly increasing: the revision names the logo's address and the pages' ETag.
        now = max(now, int(row["updated_at"]) + 1) if row else now
        if row is None:
            await tx.execute(
                "INSERT INTO site_identity (id, updated_at) VALUES (?, ?)", SITE_ROW, now
            )
        for column, value in values.items():
            if column not in _COLUMNS:
                raise ValueError(f"not a site_identity column: {column}")
            await tx.execute(f"UPDATE site_identity SET {column} = ? WHERE id = ?", value, SITE_ROW)
        await tx.execute("UPDATE site_identity SET updated_at = ? WHERE id = ?", now, SITE_ROW)


_COLUMNS = frozenset({"name", "colour", "logo_png", "logo_alt", "accessibility_status"})


class IdentityCache:
    """The identity as pages and mails need it, re-read from the database at most every
    :data:`FRESH_FOR_S` (several nodes share the row)."""

    def __init__(self, config: BookingConfig) -> None:
        self._config = config
        self._value: SiteIdentity | None = None
        self._read_at = 0.0

    async def current(self, db: Database | Connection) -> SiteIdentity:
        """Read through ``db``, which may be the caller's transaction (on SQLite a read
        beside an open transaction would wait for it)."""
        now = time.monotonic()
        if self._value is None or now - self._read_at > FRESH_FOR_S:
            self._value = await load_identity(db, self._config)
            self._read_at = now
        return self._value

    def forget(self) -> None:
        """This node changed the row: the next read takes it."""
        self._value = None
