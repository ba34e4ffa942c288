"""Visioguichet's selective forwarding unit: RTP in, RTP out, never transcoded.

Imports nothing else of the project; see docs/sfu-api.md for the contract.
"""

from sfu.config import IceServer, SfuConfig
from sfu.core import Sfu
from sfu.models import QualityReport, SubscriptionOffer, TrackInfo
from sfu.participant import Participant
from sfu.room import Room, RoomListener, RoomListenerBase

__all__ = [
    "IceServer",
    "Participant",
    "QualityReport",
    "Room",
    "RoomListener",
    "RoomListenerBase",
    "Sfu",
    "SfuConfig",
    "SubscriptionOffer",
    "TrackInfo",
]
