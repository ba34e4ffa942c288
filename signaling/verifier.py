"""What signalling needs from a join-token verifier, without knowing the token format,
and from whoever issued the token, without knowing why a room is open or closed.

The composition adapts the real verifier (``visioguichet.join_token``) and the booking
side's answer to these protocols, so signalling never imports booking or the
composition.
"""

from __future__ import annotations

from typing import Protocol


class Grant(Protocol):
    """What a valid token allows: one participant, in one room, with one role."""

    @property
    def room(self) -> str: ...
    @property
    def role(self) -> str: ...  # "host" | "guest" | "observer"
    @property
    def subject(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def lobby(self) -> bool: ...
    @property
    def expires_at(self) -> float: ...


class TokenVerifier(Protocol):
    """Checks a join token; raises ``signaling.TokenRejected(code, message)`` if bad."""

    def verify(self, token: object) -> Grant: ...


class RoomAdmission(Protocol):
    """Says whether a genuine grant's room may be entered now.

    A signed token cannot be recalled once handed out, but what it was issued for can
    be cancelled, moved or closed afterwards: signalling asks on every ``join`` and
    ``probe`` and refuses with ``signaling.AdmissionRefused(code, message)``.
    """

    async def check(self, grant: Grant) -> None: ...
