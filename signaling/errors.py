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
        "too-early",
        "booking-cancelled",
        "booking-ended",
        "forbidden",
        "denied",
        "room-ended",
        "replaced",
        "room-full",
        "rate-limited",
        "too-large",
        "internal",
        "answer-refused",
        "no-usable-candidate",
        "ice-failed",
        "dtls-failed",
        "node-lost",
    }
)


class TokenRejected(Exception):
    """Raised by a ``TokenVerifier``: the join token cannot be accepted.

    ``code`` is one of the ``token-*`` error codes of the protocol; ``not_before``
    (epoch seconds) says when a token that is not valid yet will be.
    """

    def __init__(self, code: str, message: str, *, not_before: float | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.not_before = not_before


ADMISSION_CODES: frozenset[str] = frozenset({"too-early", "booking-cancelled", "booking-ended"})


class AdmissionRefused(Exception):
    """Raised by a ``RoomAdmission``: the token is genuine but its room is closed now.

    ``code`` is one of ``ADMISSION_CODES``; ``not_before`` (epoch seconds) goes with
    ``too-early`` and says when the room opens.
    """

    def __init__(self, code: str, message: str, *, not_before: float | None = None) -> None:
        super().__init__(message)
        self.code = code if code in ADMISSION_CODES else "booking-ended"
        self.message = message
        self.not_before = not_before


class FrameRefused(Exception):
    """A client frame is refused; the session turns it into an ``error`` frame.

    ``fatal`` errors close the connection after the frame is sent.
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        fatal: bool = False,
        not_before: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.fatal = fatal
        self.not_before = not_before

    def to_frame(self, ref: str | None = None) -> dict[str, object]:
        frame: dict[str, object] = {"type": "error", "code": self.code, "message": self.message}
        if self.field is not None:
            frame["field"] = self.field
        if self.not_before is not None:
            frame["not_before"] = self.not_before
        if ref is not None:
            frame["ref"] = ref
        if self.fatal:
            frame["fatal"] = True
        return frame


def bad_field(field: str, message: str) -> FrameRefused:
    return FrameRefused("bad-field", message, field=field)
