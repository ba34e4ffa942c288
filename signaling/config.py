"""Signalling limits and timings, with the defaults the protocol document promises."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SignalingConfig:
    """Tunables of the signalling server.

    - ``join_timeout_s``: a connection must send a valid ``join`` within this time.
    - ``max_frame_bytes``: larger frames get ``too-large`` and are dropped (the
      connection stays open); frames above ``hard_frame_limit_bytes`` close it (1009).
    - ``rate_per_s`` / ``rate_burst``: per-connection token bucket for client frames.
    - ``send_queue_frames``: frames waiting for a slow client before it is dropped.
    - ``chat_max_chars``: longest chat message.
    - ``max_candidates_per_pc``: trickled candidates past this are ignored.
    - ``max_participants_per_room``: in the call and its lobby together (an agent, the
      citizen and two guests); one more gets ``room-full``.
    - ``quality_frame_interval_s``: an unchanged ``quality`` state is re-sent to a
      client at most this often (a change is sent at once).
    - ``quality_event_interval_s``: the same for ``quality`` call events.
    - ``ended_rooms_remembered``: how many ended rooms refuse guests (``room-ended``).
    - ``ice_servers``: STUN/TURN servers given to clients in ``joined``.
    - ``heartbeat_s``: WebSocket ping interval that detects dead connections.
    """

    join_timeout_s: float = 10.0
    max_frame_bytes: int = 64 * 1024
    hard_frame_limit_bytes: int = 256 * 1024
    rate_per_s: float = 20.0
    rate_burst: int = 60
    send_queue_frames: int = 256
    chat_max_chars: int = 2000
    max_candidates_per_pc: int = 64
    max_participants_per_room: int = 4
    quality_frame_interval_s: float = 2.0
    quality_event_interval_s: float = 5.0
    ended_rooms_remembered: int = 10_000
    ice_servers: Sequence[Mapping[str, object]] = ()
    heartbeat_s: float | None = 20.0
