"""Per-room counters, cheap enough to bump on every packet."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class RoomCounters:
    packets_in: int = 0
    bytes_in: int = 0
    packets_out: int = 0
    bytes_out: int = 0
    layer_switches: int = 0
    keyframe_requests: int = 0
    nacks_received: int = 0
    nacks_served: int = 0
    nacks_forwarded: int = 0
    packets_lost_reported: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
