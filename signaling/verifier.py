"""What signalling needs from a join-token verifier, without knowing the token format.

The composition adapts the real verifier (``visioguichet.join_token``) to this
protocol, so signalling never imports booking or the composition.
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
