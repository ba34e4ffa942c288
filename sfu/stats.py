"""Counters: per room, cheap enough to bump on every packet; per process, for what
goes wrong with connections (kept after the room that saw it is gone)."""

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


# why a peer connection did not work, as the signalling error codes name it
FAILURE_REASONS = ("answer-refused", "no-usable-candidate", "ice-failed", "dtls-failed")


@dataclass
class SfuCounters:
    """The process's connection troubles: what an operator alerts on.

    ``malformed_datagrams``: datagrams on our ICE sockets that aioice could not parse
    (dropped); ``connection_failures``: peer connections that did not work, by reason
    (``FAILURE_REASONS``); ``streams_not_decodable``: streams a subscriber did not get
    because it cannot decode their codec (``sfu.codec_policy``: ``codec-unsupported``).
    """

    malformed_datagrams: int = 0
    streams_not_decodable: int = 0
    connection_failures: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(FAILURE_REASONS, 0)
    )

    def failed(self, reason: str) -> None:
        self.connection_failures[reason] = self.connection_failures.get(reason, 0) + 1

    def as_dict(self) -> dict[str, object]:
        return {
            "malformed_datagrams": self.malformed_datagrams,
            "streams_not_decodable": self.streams_not_decodable,
            "connection_failures": dict(self.connection_failures),
        }
