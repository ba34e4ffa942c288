"""Short links for SMS: ``{public_base_url}/j/{code}`` opens a long link (join, manage).

A full manage link is some 80 characters, half an SMS; a 12-character code keeps a
message with two links within one SMS. The code is as good as the link it opens, so it
is unguessable (12 base62 characters, 71 bits) and the database keeps neither the code
nor the link in clear: the row is found by the code's hash and holds the link encrypted
with a key derived from the code. A copy of the database opens no link, as with the
other secrets (``booking_api.tokens``).
"""

from __future__ import annotations

import hashlib
import os
import secrets
import string
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from booking_api.db import Connection, Database

ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 12
_NONCE_BYTES = 12


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def _code_hash(code: str) -> str:
    return hashlib.sha256(b"short-link-id:" + code.encode()).hexdigest()


def _key(code: str) -> bytes:
    return hashlib.sha256(b"short-link-key:" + code.encode()).digest()


def short_url(public_base_url: str, code: str) -> str:
    return f"{public_base_url}/j/{code}"


async def shorten(tx: Connection | Database, booking_id: str, target: str, base: str) -> str:
    """A short URL opening ``target``; kept until the booking's data is purged."""
    code = new_code()
    nonce = os.urandom(_NONCE_BYTES)
    sealed = nonce + AESGCM(_key(code)).encrypt(nonce, target.encode(), None)
    await tx.execute(
        "INSERT INTO short_links (code_hash, booking_id, sealed_target, created_at) "
        "VALUES (?, ?, ?, ?)",
        _code_hash(code),
        booking_id,
        sealed.hex(),
        int(time.time()),
    )
    return short_url(base, code)


async def resolve(db: Database, code: str) -> str | None:
    """The link a code opens, or None for a code never issued (or purged)."""
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        return None
    row = await db.fetch_one(
        "SELECT sealed_target FROM short_links WHERE code_hash = ?", _code_hash(code)
    )
    if row is None:
        return None
    sealed = bytes.fromhex(row["sealed_target"])
    try:
        target = AESGCM(_key(code)).decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], None)
    except InvalidTag:
        return None
    return target.decode()
