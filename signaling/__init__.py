"""Signalling: the WebSocket protocol of ``docs/protocol.md`` in front of the SFU.

Uses ``sfu`` and a token verifier; never the booking side nor the composition.
"""

from signaling.call_events import CallEvent, CallEventListener
from signaling.cluster import Cluster, ClusterUnavailable, NodeInfo, NodeLoad
from signaling.config import SignalingConfig
from signaling.errors import ERROR_CODES, AdmissionRefused, FrameRefused, TokenRejected
from signaling.routing import LocalRoomRouting, Mailbox, RoomRouting
from signaling.server import SignalingServer
from signaling.verifier import Grant, RoomAdmission, TokenVerifier

__all__ = [
    "ERROR_CODES",
    "AdmissionRefused",
    "CallEvent",
    "CallEventListener",
    "Cluster",
    "ClusterUnavailable",
    "FrameRefused",
    "Grant",
    "LocalRoomRouting",
    "Mailbox",
    "NodeInfo",
    "NodeLoad",
    "RoomAdmission",
    "RoomRouting",
    "SignalingConfig",
    "SignalingServer",
    "TokenRejected",
    "TokenVerifier",
]
