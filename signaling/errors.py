"""Errors that become ``error`` frames: one stable, machine-readable code each.

Keeping the codes here, apart from the handlers, makes the list in
``docs/protocol.md`` checkable against the code in one place.
"""

from __future__ import annotations

ERROR_CODES: frozenset[str] = frozenset(
    {
        "bad-frame",
        "unknown-type",
        "bad-field",
        "not-joined",
        "already-joined",
        "join-timeout",
        "token-malformed",
        "token-invalid",
        "token-expired",
        "token-not-yet-valid",
        "forbidden",
        "denied",
        "room-ended",
        "replaced",
        "rate-limited",
        "too-large",
        "internal",
    }
)


class TokenRejected(Exception):
    """Raised by a ``TokenVerifier``: the join token cannot be accepted.

    ``code`` is one of the ``token-*`` error codes of the protocol.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class FrameRefused(Exception):
    """A client frame is refused; the session turns it into an ``error`` frame.

    ``fatal`` errors close the connection after the frame is sent.
    """

    def __init__(
        self, code: str, message: str, *, field: str | None = None, fatal: bool = False
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.fatal = fatal

    def to_frame(self, ref: str | None = None) -> dict[str, object]:
        frame: dict[str, object] = {"type": "error", "code": self.code, "message": self.message}
        if self.field is not None:
            frame["field"] = self.field
        if ref is not None:
            frame["ref"] = ref
        if self.fatal:
            frame["fatal"] = True
        return frame


def bad_field(field: str, message: str) -> FrameRefused:
    return FrameRefused("bad-field", message, field=field)
