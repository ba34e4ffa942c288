"""Why one of our peer connections did not work, said once: ICE, DTLS, no usable
candidate, or no connectivity in time.

aiortc only turns ``connectionState`` to ``failed`` (or leaves it at ``connecting`` for
as long as aioice keeps retrying); nobody hears of it unless someone listens. Without
this the server logged nothing, the client got no error and the call simply had no
media. The owner (``Participant``) turns each verdict into a log line, a counter and a
room event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

# ICE that has not connected this long after both descriptions are set never will in
# practice (a browser declares it failed after about as long); aioice alone may keep
# retrying its checks for over a minute
ICE_CONNECT_TIMEOUT_S = 30.0

NO_USABLE_CANDIDATE = "no-usable-candidate"
ICE_FAILED = "ice-failed"
DTLS_FAILED = "dtls-failed"

OnFailure = Callable[[str, str], None]  # (code, reason)


class ConnectionWatch:
    """Watches one ``ForwardingPeerConnection`` from ICE start to connected (or failure)."""

    def __init__(self, pc: Any, on_failure: OnFailure) -> None:
        self._pc = pc
        self._on_failure = on_failure
        self._timer: asyncio.TimerHandle | None = None
        self.failure: str | None = None  # the code reported, once
        pc.on("connectionstatechange", self._on_state)

    def ice_started(self) -> None:
        """Both descriptions are set: connectivity is due within the timeout from now."""
        if self._timer is None and self.failure is None and not self._settled():
            self._timer = asyncio.get_running_loop().call_later(
                ICE_CONNECT_TIMEOUT_S, self._timed_out
            )

    def candidates_known(self) -> None:
        """The peer's candidates so far (its description's, or all at its end of
        candidates) are known: with some and none usable, ICE cannot work."""
        if self._pc.remote_candidates_accepted == 0 and self._pc.remote_candidates_refused:
            self._fail(NO_USABLE_CANDIDATE, self._refused_reason())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _settled(self) -> bool:
        return self._pc.connectionState in ("connected", "closed")

    def _on_state(self) -> None:
        state = self._pc.connectionState
        if state in ("connected", "closed"):
            self.close()
        elif state == "failed":
            if self._pc.iceConnectionState == "failed":
                self._fail(*self._ice_cause("ICE connectivity checks failed"))
            else:
                self._fail(DTLS_FAILED, "the DTLS handshake failed (certificate or fingerprint)")

    def _timed_out(self) -> None:
        self._timer = None
        if self._settled():
            return
        if self._pc.iceConnectionState in ("connected", "completed"):
            # ICE works but the peer never completed (or started) the DTLS handshake
            self._fail(DTLS_FAILED, f"no DTLS handshake within {ICE_CONNECT_TIMEOUT_S:g} s")
        else:
            self._fail(*self._ice_cause(f"no ICE connectivity within {ICE_CONNECT_TIMEOUT_S:g} s"))

    def _ice_cause(self, reason: str) -> tuple[str, str]:
        if self._pc.remote_candidates_accepted == 0 and self._pc.remote_candidates_refused:
            return NO_USABLE_CANDIDATE, self._refused_reason()
        return ICE_FAILED, reason

    def _refused_reason(self) -> str:
        return (
            f"all {self._pc.remote_candidates_refused} remote candidates are outside the "
            "networks this server accepts media from"
        )

    def _fail(self, code: str, reason: str) -> None:
        self.close()
        if self.failure is not None:
            return
        self.failure = code
        self._on_failure(code, reason)
