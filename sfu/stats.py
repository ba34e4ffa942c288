"""Per-room counters, cheap enough to bump on every packet."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from sfu._datapath import Counters


@dataclass
class RoomCounters:
    """Media counts live in ``media``, bumped from C on every packet; the rest here."""

    media: Counters = field(default_factory=Counters, repr=False, compare=False)
    layer_switches: int = 0
    keyframe_requests: int = 0
    nacks_received: int = 0
    nacks_served: int = 0
    nacks_forwarded: int = 0
    packets_lost_reported: int = 0

    def as_dict(self) -> dict[str, int]:
        media = self.media
        data = {
            "packets_in": int(media.packets_in),
            "bytes_in": int(media.bytes_in),
            "packets_out": int(media.packets_out),
            "bytes_out": int(media.bytes_out),
        }
        data.update({f.name: getattr(self, f.name) for f in fields(self) if f.name != "media"})
        return data
