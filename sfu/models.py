"""Plain values the SFU hands to integrators."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TrackInfo:
    """What a subscribe offer's m-line carries: whose media and which source."""

    mid: str
    participant_id: str
    source: str
    kind: str


@dataclass(frozen=True)
class SubscriptionOffer:
    """A server-created offer for a participant's subscribe peer connection."""

    sdp: str
    tracks: list[TrackInfo] = field(default_factory=list)
    # on a fresh connection: the client closes its old one first (``offer.restart``)
    restart: bool = False
    # numbers this participant's offers; an answer naming another is refused (stale)
    offer_id: int = 0


@dataclass(frozen=True)
class QualityReport:
    """How one subscriber receives one publisher's video."""

    publisher_id: str
    layer: int | None
    audio_only: bool
    reason: str
    estimate_bps: int
    loss: float
    rtt_ms: float | None
