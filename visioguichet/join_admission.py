"""Join tokens follow their booking across the boundary that booking and signalling
never cross themselves: signalling asks booking's gate on every join, and booking has
signalling end the live call of a booking that was cancelled or closed."""

from __future__ import annotations

import booking_api
import signaling


class BookingAdmission:
    """Signalling's ``RoomAdmission``, answered by booking's ``JoinGate``."""

    def __init__(self, gate: booking_api.JoinGate) -> None:
        self._gate = gate

    async def check(self, grant: signaling.Grant) -> None:
        refusal = await self._gate.refusal(grant.room, grant.role)
        if refusal is not None:
            raise signaling.AdmissionRefused(
                refusal.code, refusal.message, not_before=refusal.not_before
            )


class SignalingLiveCalls:
    """Booking's ``LiveCalls``, carried out by the signalling server."""

    def __init__(self, server: signaling.SignalingServer) -> None:
        self._server = server

    async def end(self, room: str, code: str, message: str) -> None:
        await self._server.close_room(room, code=code, message=message)


def wire_join_admission(gate: booking_api.JoinGate, server: signaling.SignalingServer) -> None:
    """Both directions at once, so neither is wired without the other."""
    server.admission = BookingAdmission(gate)
    gate.end_live_calls_with(SignalingLiveCalls(server))
