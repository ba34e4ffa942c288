"""Join time, measured where the composition already stands on both sides of a join.

Signalling asks the composition's admission on every join (after the token is
verified) and reports ``participant-joined`` through the call-event listener once the
participant is in the room; the time between the two, per room and participant, is
the join time. Neither part needs a hook of its own.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import signaling

# A join asks admission twice within milliseconds (before and under the room's lock);
# an older pending start belongs to a join that never completed (disconnected).
PENDING_EXPIRY_S = 30.0
MAX_PENDING = 4096


class JoinTimer:
    """Starts a clock at a join's first admission check and stops it at the participant's
    ``participant-joined`` event. Guests with a lobby token are left out: most wait for
    a host to let them in, and that wait is not the service's."""

    def __init__(
        self, observe: Callable[[float], None], *, clock: Callable[[], float] = time.time
    ) -> None:
        self._observe = observe
        self._clock = clock
        self._started: OrderedDict[tuple[str, str], float] = OrderedDict()

    def timed(self, admission: signaling.RoomAdmission) -> signaling.RoomAdmission:
        return _TimedAdmission(self, admission)

    def started(self, grant: signaling.Grant) -> None:
        if grant.role == "guest" and grant.lobby:
            return
        now = self._clock()
        key = (grant.room, grant.subject)
        begun = self._started.get(key)
        if begun is None or now - begun > PENDING_EXPIRY_S:
            self._started[key] = now
            self._started.move_to_end(key)
        while len(self._started) > MAX_PENDING:
            self._started.popitem(last=False)

    def refused(self, grant: signaling.Grant) -> None:
        self._started.pop((grant.room, grant.subject), None)

    def observe_event(self, event: Any) -> None:
        """A signalling call event (``CallEvent``): a join completes on ``participant-joined``."""
        if event.kind != "participant-joined":
            return
        begun = self._started.pop((event.room, str(event.data.get("participant_id"))), None)
        if begun is not None and 0 <= event.at - begun <= PENDING_EXPIRY_S:
            self._observe(event.at - begun)


class _TimedAdmission:
    """Signalling's ``RoomAdmission``: the wrapped one's answer, timed."""

    def __init__(self, timer: JoinTimer, admission: signaling.RoomAdmission) -> None:
        self._timer = timer
        self._admission = admission

    async def check(self, grant: signaling.Grant) -> None:
        self._timer.started(grant)
        try:
            await self._admission.check(grant)
        except signaling.AdmissionRefused:
            self._timer.refused(grant)
            raise
