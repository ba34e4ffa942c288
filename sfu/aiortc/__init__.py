"""Every touch of aiortc's, aioice's and pylibsrtp's insides, so the rest of the SFU
reads as SFU logic and goes through this package's public names only.

aiortc's receiver depayloads, buffers and decodes; its sender pulls frames and encodes.
A forwarder wants neither. One module per concern:

- ``forwarding``: ``ForwardingReceiver`` and ``ForwardingSender``, aiortc's receiver
  and sender replaced by ones that hand RTP to a sink and send the SFU's bytes.
- ``peer_connection``: ``ForwardingPeerConnection``, creating those two, gathering on
  the configured addresses and port range, filtering remote networks.
- ``fast_path``: ``FastPath``, RTP, RTCP and consent of one connection once DTLS is up,
  without aiortc's per-packet coroutines (with ``srtp``: the native SRTP sessions, and
  ``ice_consent``: ICE consent freshness at byte level).
- ``native_socket``: a host candidate's socket read with ``recvmmsg`` in C.
- ``certificate``: one DTLS certificate for the process's SFU connections, and
  ``install()``, which checks the versions first.
- ``private_api``: every private name used here, and the pinned releases they were
  read from (a test looks each one up on the installed packages).

Names with ``_RTC...__`` prefixes are aiortc's private attributes (Python name
mangling); they, and every other private name used here, are the price of not forking
aiortc. Nothing outside this package imports aiortc, aioice or pylibsrtp.
"""

from aiortc.rtp import RtcpReceiverInfo

from sfu.aiortc.certificate import install, installed, process_certificate
from sfu.aiortc.fast_path import MAX_QUEUED_DATAGRAMS, Admission, FastPath
from sfu.aiortc.forwarding import (
    ABS_SEND_TIME_URI,
    AUDIO_LEVEL_URI,
    MID_URI,
    ForwardingReceiver,
    ForwardingSender,
    PacketPath,
    ReceiverSink,
    SenderSink,
    codecs_of,
    log_forward_error,
)
from sfu.aiortc.native_socket import NativeDatagramTransport
from sfu.aiortc.peer_connection import (
    ForwardingPeerConnection,
    codec_capabilities_for,
    ice_servers_for,
    install_impairment,
    negotiated_mime,
    remote_sends,
    restrict_codecs,
    rewrite_candidate_addresses,
)
from sfu.aiortc.private_api import IncompatibleDependency
from sfu.aiortc.srtp import native_srtp, srtp_sessions

__all__ = [
    "ABS_SEND_TIME_URI",
    "AUDIO_LEVEL_URI",
    "MAX_QUEUED_DATAGRAMS",
    "MID_URI",
    "Admission",
    "FastPath",
    "ForwardingPeerConnection",
    "ForwardingReceiver",
    "ForwardingSender",
    "IncompatibleDependency",
    "NativeDatagramTransport",
    "PacketPath",
    "ReceiverSink",
    "RtcpReceiverInfo",
    "SenderSink",
    "codec_capabilities_for",
    "codecs_of",
    "ice_servers_for",
    "install",
    "install_impairment",
    "installed",
    "log_forward_error",
    "native_srtp",
    "negotiated_mime",
    "process_certificate",
    "remote_sends",
    "restrict_codecs",
    "rewrite_candidate_addresses",
    "srtp_sessions",
]
