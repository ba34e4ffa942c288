"""The join requests a benchmark's SFU process answers over its pipe, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the SFU is imported by the child process only
    from sfu import Sfu

JOIN_OPS = ("publish", "offer", "answer")


async def answer_join_request(sfu: Sfu, op: str, args: list[Any]) -> Any:
    """``publish`` (room, participant, offer SDP) → answer SDP; ``offer`` (room,
    participant) → the subscribe offer's SDP or None; ``answer`` (room, participant,
    answer SDP) → None."""
    if op == "publish":
        room = sfu.room(args[0])
        participant = room.get_participant(args[1]) or room.add_participant(args[1])
        return await participant.publish(args[2])
    if op == "offer":
        offer = await sfu.room(args[0]).participants[args[1]].subscription_offer()
        return None if offer is None else offer.sdp
    if op == "answer":
        await sfu.room(args[0]).participants[args[1]].subscription_answer(args[2])
        return None
    raise ValueError(f"not a join request: {op}")
