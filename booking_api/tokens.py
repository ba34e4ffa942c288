"""Identifiers and secrets. Secrets (manage links, sessions) are stored only as hashes,
so a copy of the database does not hand out working links."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> str:
    return uuid.uuid4().hex


def new_secret() -> str:
    """An unguessable token (256 bits), URL-safe."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
