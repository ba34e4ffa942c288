"""Signed, expiring join tokens: the one thing booking and signalling share.

Booking mints a token for one room and one role; signalling verifies it on the first
WebSocket frame. Ed25519 lets a signalling node verify with the public key only, so a
node that carries media never holds the key that can invent appointments.

Wire format: ``base64url(msgpack(claims)) "." base64url(signature)``, no padding.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgpack
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

Role = Literal["host", "guest", "observer"]
ROLES: frozenset[str] = frozenset({"host", "guest", "observer"})
TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 2048


class InvalidJoinToken(Exception):
    """The token is malformed, forged, expired or not yet valid; ``code`` says which.

    ``not_before`` (epoch seconds) says when a token that is not valid yet will be, so
    the person holding it can be told when to come back.
    """

    def __init__(self, code: str, message: str, *, not_before: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.not_before = not_before


@dataclass(frozen=True, slots=True)
class JoinGrant:
    """What a valid token allows: one participant, in one room, with one role."""

    room: str
    role: Role
    subject: str
    name: str
    expires_at: float
    not_before: float = 0.0
    lobby: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class JoinTokenSigner:
    """Mints tokens (booking side). Holds the private key."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @property
    def verifier(self) -> JoinTokenVerifier:
        return JoinTokenVerifier(self._key.public_key())

    def mint(
        self,
        *,
        room: str,
        role: Role,
        subject: str,
        name: str,
        expires_at: float,
        not_before: float = 0.0,
        lobby: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> str:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if not_before and not_before >= expires_at:
            raise ValueError("a join token must become valid before it expires")
        claims = {
            "v": TOKEN_VERSION,
            "room": room,
            "role": role,
            "sub": subject,
            "name": name,
            "exp": float(expires_at),
            "nbf": float(not_before),
            "lobby": bool(lobby),
            "x": extra or {},
        }
        body = msgpack.packb(claims, use_bin_type=True)
        return f"{_b64encode(body)}.{_b64encode(self._key.sign(body))}"


class JoinTokenVerifier:
    """Checks tokens (signalling side). Holds only the public key."""

    def __init__(self, public_key: Ed25519PublicKey, *, leeway_s: float = 30.0) -> None:
        self._key = public_key
        self._leeway_s = leeway_s

    def verify(self, token: object, *, now: float | None = None) -> JoinGrant:
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InvalidJoinToken("token-malformed", "join token missing or too long")
        body_b64, sep, sig_b64 = token.partition(".")
        if not sep:
            raise InvalidJoinToken("token-malformed", "join token has no signature")
        try:
            body, signature = _b64decode(body_b64), _b64decode(sig_b64)
        except ValueError as exc:
            raise InvalidJoinToken("token-malformed", "join token is not base64url") from exc
        try:
            self._key.verify(signature, body)
        except InvalidSignature as exc:
            raise InvalidJoinToken("token-invalid", "join token signature is invalid") from exc
        try:
            claims = msgpack.unpackb(body, raw=False)
            grant = JoinGrant(
                room=str(claims["room"]),
                role=claims["role"],
                subject=str(claims["sub"]),
                name=str(claims["name"]),
                expires_at=float(claims["exp"]),
                not_before=float(claims.get("nbf", 0.0)),
                lobby=bool(claims.get("lobby", False)),
                extra=dict(claims.get("x") or {}),
            )
        except (KeyError, TypeError, ValueError, msgpack.ExtraData) as exc:
            raise InvalidJoinToken("token-malformed", "join token claims are malformed") from exc
        if claims.get("v") != TOKEN_VERSION or grant.role not in ROLES:
            raise InvalidJoinToken("token-malformed", "join token version or role unknown")
        now = time.time() if now is None else now
        if now > grant.expires_at + self._leeway_s:
            raise InvalidJoinToken("token-expired", "join token has expired")
        if now + self._leeway_s < grant.not_before:
            opens = datetime.fromtimestamp(grant.not_before, UTC).isoformat(timespec="minutes")
            raise InvalidJoinToken(
                "token-not-yet-valid",
                f"join token is valid from {opens}",
                not_before=grant.not_before,
            )
        return grant


def load_or_create_signer(key_path: Path) -> JoinTokenSigner:
    """Load the node's Ed25519 key, creating it (mode 0600) on first start."""
    if key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{key_path} does not hold an Ed25519 private key")
        return JoinTokenSigner(key)
    key = Ed25519PrivateKey.generate()
    key_path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(pem)
    return JoinTokenSigner(key)
