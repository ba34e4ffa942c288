"""What the booking application needs from, and offers to, the composition."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, Protocol


class JoinTokenIssuer(Protocol):
    """Mints signed join tokens (the composition injects its signer)."""

    def mint(
        self,
        *,
        room: str,
        role: Any,
        subject: str,
        name: str,
        expires_at: float,
        not_before: float = 0.0,
        lobby: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> str: ...


class CallEventSink(Protocol):
    """Receives signalling call events; ``room`` is the booking id in the token."""

    def record(self, room: str, kind: str, at: float, data: dict[str, Any]) -> Awaitable[None]: ...


class LiveCalls(Protocol):
    """Ends the live call of a booking that can no longer take place (the composition
    wires it to signalling); ``code`` is ``booking-cancelled`` or ``booking-ended``."""

    def end(self, room: str, code: str, message: str) -> Awaitable[None]: ...
