"""Join tokens: what booking mints, signalling accepts; anything else is refused by code."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from visioguichet.join_token import (
    InvalidJoinToken,
    JoinTokenSigner,
    JoinTokenVerifier,
    load_or_create_signer,
)


@pytest.fixture
def signer() -> JoinTokenSigner:
    return JoinTokenSigner(Ed25519PrivateKey.generate())


def mint(signer: JoinTokenSigner, **overrides: object) -> str:
    claims: dict[str, object] = {
        "room": "bk-41",
        "role": "guest",
        "subject": "citizen-41",
        "name": "Jean Dupont",
        "expires_at": time.time() + 600,
        "lobby": True,
    }
    claims.update(overrides)
    return signer.mint(**claims)  # type: ignore[arg-type]


def test_verify_returns_the_minted_grant(signer: JoinTokenSigner) -> None:
    grant = signer.verifier.verify(mint(signer, extra={"booking": 41}))
    assert (grant.room, grant.role, grant.subject, grant.name) == (
        "bk-41",
        "guest",
        "citizen-41",
        "Jean Dupont",
    )
    assert grant.lobby is True
    assert grant.extra == {"booking": 41}


def test_expired_token_is_refused(signer: JoinTokenSigner) -> None:
    token = mint(signer, expires_at=time.time() - 3600)
    with pytest.raises(InvalidJoinToken) as info:
        signer.verifier.verify(token)
    assert info.value.code == "token-expired"


def test_token_not_yet_valid_is_refused(signer: JoinTokenSigner) -> None:
    token = mint(signer, not_before=time.time() + 3600, expires_at=time.time() + 7200)
    with pytest.raises(InvalidJoinToken) as info:
        signer.verifier.verify(token)
    assert info.value.code == "token-not-yet-valid"


def test_token_signed_by_another_key_is_refused(signer: JoinTokenSigner) -> None:
    other = JoinTokenVerifier(Ed25519PrivateKey.generate().public_key())
    with pytest.raises(InvalidJoinToken) as info:
        other.verify(mint(signer))
    assert info.value.code == "token-invalid"


def test_tampered_claims_are_refused(signer: JoinTokenSigner) -> None:
    body, _, signature = mint(signer).partition(".")
    forged_body = mint(signer, role="host").partition(".")[0]
    assert forged_body != body
    with pytest.raises(InvalidJoinToken) as info:
        signer.verifier.verify(f"{forged_body}.{signature}")
    assert info.value.code == "token-invalid"


@pytest.mark.parametrize("token", [None, "", 42, "no-dot", "!!!.???", "a" * 5000])
def test_malformed_tokens_are_refused_with_a_code(signer: JoinTokenSigner, token: object) -> None:
    with pytest.raises(InvalidJoinToken) as info:
        signer.verifier.verify(token)
    assert info.value.code in {"token-malformed", "token-invalid"}


def test_unknown_role_cannot_be_minted(signer: JoinTokenSigner) -> None:
    with pytest.raises(ValueError):
        mint(signer, role="admin")


def test_key_is_created_once_private_and_reloaded(tmp_path: Path) -> None:
    key_path = tmp_path / "keys" / "join-token.key"
    first = load_or_create_signer(key_path)
    assert key_path.stat().st_mode & 0o777 == 0o600
    token = mint(first)
    assert load_or_create_signer(key_path).verifier.verify(token).room == "bk-41"


def test_token_not_yet_valid_says_from_when(signer: JoinTokenSigner) -> None:
    opens = time.time() + 4 * 3600
    token = mint(signer, not_before=opens, expires_at=opens + 3600)
    with pytest.raises(InvalidJoinToken) as info:
        signer.verifier.verify(token)
    assert info.value.not_before == pytest.approx(opens)
    assert datetime.fromtimestamp(opens, UTC).isoformat(timespec="minutes") in info.value.message
    assert signer.verifier.verify(token, now=opens).room == "bk-41"


def test_token_cannot_start_after_it_expires(signer: JoinTokenSigner) -> None:
    with pytest.raises(ValueError):
        mint(signer, not_before=time.time() + 7200, expires_at=time.time() + 3600)
