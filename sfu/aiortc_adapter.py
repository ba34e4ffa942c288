"""Every touch of aiortc internals lives here, so the rest of the SFU reads as SFU logic.

aiortc's receiver depayloads, buffers and decodes; its sender pulls frames and encodes.
A forwarder wants neither. This module swaps in, per peer connection only:

- ``ForwardingReceiver``: RTP handed over at ``_handle_rtp_packet`` (after SRTP and the
  bundle router) straight to a sink; RTX unwrapped; its sender reports reach the sink
  from ``FastPath``. No jitter buffer, no depacketizer, no decoder thread.
- ``ForwardingSender``: registers its SSRC with the DTLS transport for RTCP routing and
  sends whatever bytes the SFU gives it through ``RTCDtlsTransport._send_rtp``; its
  RTCP (receiver reports, NACK, PLI/FIR, REMB) reaches its sink from ``FastPath``. It
  never has a track, never pulls frames, never creates an encoder; sender reports are
  the sink's to build.
- ``ForwardingPeerConnection``: an ``RTCPeerConnection`` creating those two instead of
  aiortc's, with host candidates gathered on chosen addresses (aioice skips loopback
  by default) and remote candidates filtered by network.
- Cheap joins: every ``ForwardingPeerConnection`` of the process presents one DTLS
  certificate (``process_certificate``; as browsers and mediasoup's workers do) with
  its fingerprints and OpenSSL context made once, where aiortc generates a key, a
  certificate and a context per peer connection; and gathering uses the configured
  addresses without aioice's interface scan (a scan, when needed, serves a few
  seconds of joins).
- ``FastPath``: once DTLS is up, RTP skips aioice's per-packet queue, the STUN parse
  attempt and aiortc's receive coroutine chain: the UDP callback unprotects SRTP and
  hands an ``RtpView`` to the receiver synchronously; egress protects and calls
  ``sendto`` on the nominated pair directly. Incoming RTCP is read in place
  (``sfu.rtcp_wire``) and dispatched to the sinks synchronously, without aiortc's
  per-packet dataclasses. ICE consent checks (RFC 7675), both ways, are
  ``sfu.ice_consent``'s, without aioice's message objects and transactions; DTLS and
  any other STUN keep aiortc's path. With an AES-GCM profile (what browsers and aiortc
  prefer) SRTP is the SFU's own ``srtp_aead`` (keyed once per connection, libsrtp's
  bytes); other profiles use the libsrtp sessions aiortc made.

Names with ``_RTC...__`` prefixes are aiortc's private attributes (Python name
mangling); they, and every other private name of aiortc, aioice and pylibsrtp used
here, are the price of not forking aiortc: ``sfu.private_api`` lists them and checks
the pinned versions in ``install()``, which an ``Sfu`` calls when it is made.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import socket
import struct
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

import aioice.ice
import aiortc.rtcpeerconnection
import pylibsrtp
import structlog
from aioice import Candidate, TransportPolicy
from aioice.ice import candidate_foundation, candidate_priority
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import (
    RTCCertificate,
    RTCDtlsFingerprint,
    RTCDtlsTransport,
    SRTPProtectionProfile,
)
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RTCP_SR,
    HeaderExtensionsMap,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    RtpPacket,
    pack_remb_fci,
    wrap_rtx,
)
from aiortc.sdp import candidate_from_sdp
from OpenSSL import SSL
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from sfu import malformed_datagrams, private_api
from sfu._datapath import (
    Egress,
    Ingress,
    Reader,
    SourceMap,
    Srtp,
    aead_srtp,
    flush,
    set_flush_scheduler,
    set_view_factory,
)
from sfu.ice_consent import Consent
from sfu.malformed_datagrams import OnMalformed
from sfu.rtcp_wire import (
    FIR,
    NACK,
    PLI,
    REMB,
    REPORT_BLOCK,
    SENDER_INFO,
    fir_ssrcs,
    media_ssrc,
    nack,
    remb,
    report_block,
    sender_info,
    walk,
)
from sfu.rtp_view import RtpView
from sfu.transport_feedback import TransportFeedback

__all__ = [
    "FastPath",
    "ForwardingPeerConnection",
    "ForwardingReceiver",
    "ForwardingSender",
    "HeaderExtensionsMap",
    "ReceiverSink",
    "RtcpReceiverInfo",
    "RtpPacket",
    "RtpView",
    "SenderSink",
    "codecs_of",
    "install",
    "log_forward_error",
    "native_srtp",
    "process_certificate",
    "send_packet",
    "srtp_sessions",
    "wrap_rtx",
]

from aiortc.rtp import RtcpReceiverInfo

log = structlog.get_logger(__name__)

# RTCP and DTLS datagrams waiting for aiortc's transport task, per connection: a peer
# sending faster than it reads loses the excess instead of growing our memory
MAX_QUEUED_DATAGRAMS = 256
AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


class ReceiverSink(Protocol):
    def on_rtp(self, packet: RtpView) -> None: ...
    def rtx_primary(self, packet: RtpView) -> int | None: ...
    def on_sender_report(self, ssrc: int, ntp: int, rtp_timestamp: int) -> None: ...


class SenderSink(Protocol):
    def on_nack(self, sequence_numbers: list[int]) -> None: ...
    def on_keyframe_request(self) -> None: ...
    def on_receiver_report(self, report: RtcpReceiverInfo) -> None: ...
    def on_remb(self, bitrate_bps: int) -> None: ...


async def send_packet(transport: RTCDtlsTransport, data: bytes) -> bool:
    """SRTP-protect and send; False when the transport is not (or no longer) up."""
    try:
        await transport._send_rtp(data)
    except ConnectionError:
        return False
    return True


class Admission(Protocol):
    """Decides whether a datagram leaves (the test-only impairment shim)."""

    def admit(self, size: int) -> bool: ...


set_view_factory(RtpView.parse)  # how a packet needing a decision reaches Python
_SRTP_FUNCTIONS = tuple(
    int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, name)))
    for name in ("srtp_protect", "srtp_unprotect", "srtp_protect_rtcp", "srtp_unprotect_rtcp")
)


def _schedule_flush() -> None:
    """Send the packets batched in this wake-up once every ready callback has run."""
    asyncio.get_running_loop().call_soon(flush)  # no loop: RuntimeError, C sends at once


set_flush_scheduler(_schedule_flush)


def native_srtp(session: pylibsrtp.Session) -> Srtp:
    """The RTP calls of one pylibsrtp ``Session``, made from C on the same libsrtp context.

    ``Session.protect`` type-checks, allocates and dispatches in Python on every packet;
    the forwarder's C path calls the same libsrtp functions on the same session.
    """
    context = int(srtp_ffi.cast("uintptr_t", session._srtp[0]))
    return Srtp(session, context, *_SRTP_FUNCTIONS)


def srtp_sessions(dtls: RTCDtlsTransport) -> tuple[Srtp, Srtp]:
    """(receive, send) SRTP for a connected DTLS transport.

    AES-GCM (RFC 7714) runs on ``aead_srtp``, keyed here from the same exported material
    aiortc's ``_setup_srtp`` reads (libsrtp re-initialised OpenSSL's cipher for every
    packet); any other profile on the libsrtp sessions aiortc made. Whichever is chosen
    protects everything the connection sends from then on, so SRTCP indices never repeat.
    """
    selected = dtls._ssl.get_selected_srtp_profile()
    profile = next((p for p in dtls._srtp_profiles if p.openssl_profile == selected), None)
    if profile is None or profile.salt_length != AEAD_SALT_LENGTH:
        return native_srtp(dtls._rx_srtp), native_srtp(dtls._tx_srtp)
    material = dtls._ssl.export_keying_material(
        b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length)
    )
    ours = 1 if dtls._role == "server" else 0  # RFC 5764 4.2: client's key first
    return (
        aead_srtp(profile.get_key_and_salt(material, 1 - ours)),
        aead_srtp(profile.get_key_and_salt(material, ours)),
    )


AEAD_SALT_LENGTH = 12  # the AES-GCM profiles' (RFC 7714 12); AES-CM's is 14


class FastPath:
    """RTP in and out of one peer connection without aiortc's per-packet coroutines.

    aioice puts every datagram in an ``asyncio.Queue`` after trying to parse it as STUN;
    aiortc's DTLS transport awaits that queue, unprotects, builds a full ``RtpPacket``
    and awaits the receiver. Here, once DTLS is up, the socket's callback is the native
    ``Ingress``: it unprotects SRTP and hands RTP of a known SSRC to its ``Source``
    (``sfu/_datapath.c``); RTP of an SSRC not known yet comes to ``_receive_slow`` so the
    SSRC can be learnt through aiortc's router. RTCP, unprotected by ``Ingress`` (or by
    aiortc's task, if it was queued before), comes to ``_receive_rtcp``. Egress protects
    and sends on the nominated candidate pair (``Egress``). ICE consent checks are
    answered and sent by ``consent`` (``sfu.ice_consent``); DTLS and any other STUN keep
    aiortc's path.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self.dtls = dtls
        self.receivers: dict[int, ForwardingReceiver] = {}
        self.sources: SourceMap = SourceMap()  # SSRC → its producer layer (Source), read by C
        self.egress = Egress()
        self.unroutable = 0
        self.dropped = 0  # empty datagrams, and RTCP/DTLS over MAX_QUEUED_DATAGRAMS
        self.rtcp_rejected = 0  # compound RTCP packets dropped whole as invalid
        # each socket's protocol, its own datagram_received, and the Ingress put instead
        self._hooked: list[tuple[Any, Any, Ingress]] = []
        self._connection: Any = None
        self.consent: Consent | None = None
        # transport-wide congestion control feedback, once negotiated (publish connections)
        self.transport_cc_id = 0
        self.transport_feedback: TransportFeedback | None = None
        dtls.on("statechange", self._on_state)
        # RTCP that aiortc's own task unprotects (queued before the fast path was up)
        # takes the same walk, never aiortc's parse and router
        dtls._handle_rtcp_data = self._receive_queued_rtcp  # type: ignore[method-assign]

    @property
    def impairment(self) -> Admission | None:
        return self.egress.impairment  # type: ignore[no-any-return]

    @impairment.setter
    def impairment(self, value: Admission | None) -> None:
        self.egress.impairment = value

    @property
    def srtp_errors(self) -> int:
        return sum(int(ingress.srtp_errors) for _, _, ingress in self._hooked)

    @property
    def fast_packets(self) -> int:
        """RTP packets handed to a native ``Source`` without coming to Python."""
        return sum(int(ingress.fast_packets) for _, _, ingress in self._hooked)

    def _on_state(self) -> None:
        if self.dtls._state == DtlsState.CONNECTED:
            self._install()
        elif self.dtls._state in (DtlsState.CLOSED, DtlsState.FAILED):
            self._uninstall()

    def _install(self) -> None:
        self._connection = self.dtls.transport._connection
        rx, tx = srtp_sessions(self.dtls)
        self.egress.attach(tx, self._connection._nominated)
        if self.consent is None:
            self.consent = Consent(self._connection)
            self.consent.start()  # its task is the connection's, which close() cancels
        hooked = {id(protocol) for protocol, _, _ in self._hooked}
        for protocol in self._connection._protocols:
            if id(protocol) in hooked:
                continue
            original = protocol.datagram_received
            ingress = Ingress(self.sources)
            ingress.on_error = log_forward_error
            ingress.attach(
                rx, self._receive_slow, self._receive_rtcp, self._other(protocol, original)
            )
            ingress.transport_cc_id = self.transport_cc_id
            protocol.datagram_received = ingress
            self._read_into(protocol, ingress)
            self._hooked.append((protocol, original, ingress))
        self._start_transport_feedback()

    def enable_transport_cc(self, extension_id: int) -> None:
        """Record every packet's transport-wide sequence number (header extension
        ``extension_id``) and send the arrivals back to the sender."""
        self.transport_cc_id = extension_id
        for _, _, ingress in self._hooked:
            ingress.transport_cc_id = extension_id
        self._start_transport_feedback()

    def _start_transport_feedback(self) -> None:
        if not self.transport_cc_id or not self._hooked or self.transport_feedback is not None:
            return
        self.transport_feedback = TransportFeedback(
            self._take_arrivals,
            self.send_rtcp,
            sender_ssrc=secrets.randbits(32) or 1,
            media_ssrc=self._feedback_media_ssrc,
        )
        self.transport_feedback.start()

    def _take_arrivals(self) -> list[tuple[int, int]]:
        if len(self._hooked) == 1:
            return list(self._hooked[0][2].take_arrivals())
        arrivals = [a for _, _, ingress in self._hooked for a in ingress.take_arrivals()]
        arrivals.sort(key=lambda arrival: arrival[1])  # several sockets: by arrival time
        return arrivals

    def _feedback_media_ssrc(self) -> int:
        """A stream the sender sends: libwebrtc hands transport feedback to the RTP
        module whose SSRC it names."""
        return min(self.receivers, default=0)

    def _uninstall(self) -> None:
        if self.transport_feedback is not None:
            self.transport_feedback.cancel()
            self.transport_feedback = None
        for protocol, original, ingress in self._hooked:
            protocol.datagram_received = original
            self._read_into(protocol, None)
            ingress.close()
        self._hooked.clear()
        self.receivers.clear()
        self.sources.clear()
        self.egress.close()

    @staticmethod
    def _read_into(protocol: Any, ingress: Ingress | None) -> None:
        """Tell the socket's ``Reader`` what ``datagram_received`` now is (no lookup)."""
        transport = getattr(protocol, "transport", None)
        if isinstance(transport, NativeDatagramTransport):
            transport.reader.ingress = ingress

    def _other(
        self, protocol: Any, original: Callable[[bytes, Any], None]
    ) -> Callable[[bytes, Any], None]:
        """What is not RTP: consent checks answered here, other STUN by aioice at once,
        RTCP and DTLS queued for aiortc."""
        queue = self._connection._queue  # aioice's datagram queue, read by aiortc's DTLS task

        def datagram_received(data: bytes, addr: Any) -> None:
            if data and data[0] < 2:  # STUN (RFC 7983): a consent check is answered here
                consent = self.consent
                if consent is not None and consent.answer(data, addr, protocol):
                    return
            if not data:
                self.dropped += 1  # nothing real is empty, and aiortc would choke on it
            elif data[0] > 3 and queue.qsize() >= MAX_QUEUED_DATAGRAMS:
                # RTCP or DTLS coming faster than aiortc reads it: drop, never grow
                self.dropped += 1
            else:
                original(data, addr)

        return datagram_received

    def _receive_rtcp(self, plain: bytes) -> None:
        """Unprotected RTCP, dispatched at once to the receivers and senders it is about.

        aiortc would queue it for a task, parse every sub-packet into dataclasses and
        route them through ``isinstance`` chains; ``sfu.rtcp_wire`` reads in place the
        few fields that are routed, with aiortc's ``RtpRouter`` tables: a sender report
        to the receiver of its SSRC, report blocks, NACKs, PLIs and FIRs to the sender of
        the SSRC they are about (a FIR's FCI names them too), a REMB to each sender it
        names. A compound with any invalid part is dropped whole, as aiortc drops it,
        and counted. Never raises: a sink's error is logged (the rest of its compound is
        not dispatched), as it would otherwise end aiortc's transport task.
        """
        items = walk(plain)
        if items is None:
            self.rtcp_rejected += 1
            return
        router = self.dtls._rtp_router
        senders = router.senders
        try:
            for kind, start, end in items:
                if kind == REPORT_BLOCK:
                    block = report_block(plain, start)
                    sink = _sender_sink(senders.get(block[0]))
                    if sink is not None:
                        sink.on_receiver_report(RtcpReceiverInfo(*block))
                elif kind == SENDER_INFO:
                    ssrc, ntp, rtp_timestamp = sender_info(plain, start)
                    receiver = router.ssrc_table.get(ssrc)
                    if isinstance(receiver, ForwardingReceiver) and receiver.sink is not None:
                        receiver.sink.on_sender_report(ssrc, ntp, rtp_timestamp)
                elif kind == NACK:
                    sink = _sender_sink(senders.get(media_ssrc(plain, start)))
                    if sink is not None:
                        sink.on_nack(nack(plain, start, end))
                elif kind == REMB:
                    bitrate, ssrcs = remb(plain, start)
                    for ssrc in dict.fromkeys(ssrcs):
                        sink = _sender_sink(senders.get(ssrc) or _rtx_sender(senders, ssrc))
                        if sink is not None:
                            sink.on_remb(bitrate)
                elif kind == PLI:
                    sink = _sender_sink(senders.get(media_ssrc(plain, start)))
                    if sink is not None:
                        sink.on_keyframe_request()
                elif kind == FIR:
                    for ssrc in fir_ssrcs(plain, start, end):
                        sink = _sender_sink(senders.get(ssrc))
                        if sink is not None:
                            sink.on_keyframe_request()
        except Exception as error:
            log_forward_error(error)

    async def _receive_queued_rtcp(self, data: bytes) -> None:
        """aiortc's ``RTCDtlsTransport._handle_rtcp_data``, replaced for this transport."""
        self._receive_rtcp(data)

    def _receive_slow(self, plain: bytes) -> None:
        """RTP of an SSRC with no native ``Source`` yet: learnt here, or RTX, or dropped."""
        view = RtpView.parse(plain, time.monotonic_ns() // 1_000_000)
        if view is None:
            return
        receiver = self.receivers.get(view.ssrc)
        if receiver is None:
            receiver = self._learn_ssrc(plain, view.ssrc)
            if receiver is None:
                self.unroutable += 1
                return
        receiver.on_rtp_view(view)

    def _learn_ssrc(self, plain: bytes, ssrc: int) -> ForwardingReceiver | None:
        try:
            packet = RtpPacket.parse(plain, self.dtls._rtp_header_extensions_map)
        except ValueError:
            return None
        router = self.dtls._rtp_router
        receiver = router.route_rtp(packet)
        if receiver is None and packet.extensions.mid is not None:
            # a new SSRC (a simulcast layer) whose payload type several m-lines share
            receiver = router.mid_table.get(packet.extensions.mid)
            if receiver is not None:
                router.ssrc_table[ssrc] = receiver  # its sender reports route there too
        if not isinstance(receiver, ForwardingReceiver) or not receiver._started:
            return None
        self.receivers[ssrc] = receiver
        return receiver

    def forget(self, receiver: ForwardingReceiver) -> None:
        for ssrc in [s for s, r in self.receivers.items() if r is receiver]:
            del self.receivers[ssrc]
            self.sources.pop(ssrc, None)

    def send_rtp(self, data: bytes) -> bool:
        """Protect and send one RTP packet; False when the connection is not up."""
        return bool(self.egress.send(data))

    def send_rtcp(self, data: bytes) -> bool:
        """Protect and send one RTCP packet now; False when the connection is not up."""
        return bool(self.egress.send_rtcp(data))


def _rtx_sender(senders: dict[int, Any], ssrc: int) -> object:
    """The sender whose RTX stream is ``ssrc``: while its video is paused and probed
    with padding, a browser's REMB names that stream alone (it forgets a stream 2 s
    after its last packet)."""
    return next((s for s in senders.values() if getattr(s, "_rtx_ssrc", None) == ssrc), None)


def _sender_sink(sender: object) -> SenderSink | None:
    """The sink of one of our senders (aiortc's router holds them as ``RtpSender``)."""
    return sender.sink if isinstance(sender, ForwardingSender) else None


def log_forward_error(error: BaseException) -> None:
    """A decision raised on the media path: logged, and the next packet goes on."""
    log.error("sfu_forward_failed", exc_info=error)


class ForwardingReceiver(RTCRtpReceiver):
    """An ``RTCRtpReceiver`` that hands RTP to a sink instead of decoding it."""

    def __init__(self, kind: str, transport: RTCDtlsTransport) -> None:
        # aiortc's __init__ builds a jitter buffer and decoder state: deliberately skipped.
        self._enabled = True
        self._track = None
        self._kind = kind
        self._transport = transport
        self._started = False
        self._rtcp_ssrc: int | None = None
        self._rtx_to_primary: dict[int, int] = {}
        self._rtx_payload_types: dict[int, int] = {}
        self.codecs: list[RTCRtpCodecParameters] = []
        self.extension_ids: dict[str, int] = {}
        self.audio_level_id = 0
        self.sink: ReceiverSink | None = None
        self.fast_path: FastPath | None = None

    @property
    def track(self) -> Any:
        return self._track

    @property
    def transport(self) -> RTCDtlsTransport:
        return self._transport

    def setTransport(self, transport: RTCDtlsTransport) -> None:
        self._transport = transport

    async def receive(self, parameters: RTCRtpReceiveParameters) -> None:
        if self._started:
            return
        self.codecs = list(parameters.codecs)
        self.extension_ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        self.audio_level_id = self.extension_ids.get(AUDIO_LEVEL_URI, 0)
        for codec in parameters.codecs:
            if is_rtx(codec):
                self._rtx_payload_types[codec.payloadType] = int(codec.parameters["apt"])
        for encoding in parameters.encodings:
            if encoding.rtx is not None:
                self._rtx_to_primary[encoding.rtx.ssrc] = encoding.ssrc
        self._transport._register_rtp_receiver(self, parameters)
        self._started = True

    async def stop(self) -> None:
        if self._started:
            self._transport._unregister_rtp_receiver(self)
            self._started = False
        if self.fast_path is not None:
            self.fast_path.forget(self)
        self.sink = None

    def _handle_disconnect(self) -> None:
        return None

    def _set_rtcp_ssrc(self, ssrc: int) -> None:
        self._rtcp_ssrc = ssrc

    async def getStats(self) -> Any:
        from aiortc.stats import RTCStatsReport

        return RTCStatsReport()

    def rtx_streams(self) -> dict[int, int]:
        """RTX SSRC → the SSRC it repairs, from the SDP and as learnt."""
        return dict(self._rtx_to_primary)

    def on_rtp_view(self, view: RtpView) -> None:
        """Hot path: one RTP packet of this m-line, RTX unwrapped, to the sink."""
        sink = self.sink
        if sink is None:
            return
        apt = self._rtx_payload_types.get(view.payload_type)
        if apt is not None:
            primary = self._rtx_to_primary.get(view.ssrc)
            if primary is None:
                # simulcast RTX streams are not in the SDP: the sink names their layer
                primary = sink.rtx_primary(view)
                if primary is None:
                    return
                self._rtx_to_primary[view.ssrc] = primary
            unwrapped = view.unwrap_rtx(apt, primary)
            if unwrapped is None:
                return
            view = unwrapped
        sink.on_rtp(view)

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        """aiortc's path, used only for packets queued before the fast path was up."""
        view = RtpView.parse(
            packet.serialize(self._transport._rtp_header_extensions_map), arrival_time_ms
        )
        if view is not None:
            self.on_rtp_view(view)

    def send_rtcp_now(self, data: bytes) -> bool:
        """Protect and send one RTCP packet now; False when the connection is not up."""
        return self.fast_path is not None and self.fast_path.send_rtcp(data)

    def keyframe_request(self, media_ssrc: int) -> bytes:
        return bytes(
            RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self._rtcp_ssrc or 0, media_ssrc=media_ssrc)
        )

    def nack(self, media_ssrc: int, lost: list[int]) -> bytes:
        packet = RtcpRtpfbPacket(
            fmt=RTCP_RTPFB_NACK, ssrc=self._rtcp_ssrc or 0, media_ssrc=media_ssrc
        )
        packet.lost = lost
        return bytes(packet)

    def receiver_report(self, reports: list[RtcpReceiverInfo]) -> bytes:
        return bytes(RtcpRrPacket(ssrc=self._rtcp_ssrc or 0, reports=reports))

    def remb(self, bitrate_bps: int, media_ssrcs: list[int]) -> bytes:
        """A REMB (goog-remb) naming the publisher's SSRCs: the ceiling of its estimate."""
        return bytes(
            RtcpPsfbPacket(
                fmt=RTCP_PSFB_APP,
                ssrc=self._rtcp_ssrc or 0,
                media_ssrc=0,
                fci=pack_remb_fci(bitrate_bps, media_ssrcs),
            )
        )


class ForwardingSender(RTCRtpSender):
    """An ``RTCRtpSender`` with no track and no encoder: the SFU pushes RTP bytes."""

    def __init__(self, kind: str, transport: RTCDtlsTransport) -> None:
        super().__init__(kind, transport)
        self.sink: SenderSink | None = None
        self.payload_type: int | None = None
        self.rtx_payload_type: int | None = None
        self.clock_rate = 90000 if kind == "video" else 48000
        self.extensions_map = HeaderExtensionsMap()
        self.extension_ids: dict[str, int] = {}
        self.fast_path: FastPath | None = None
        self.mid: str | None = None
        self.cname: str | None = None
        self.ready = asyncio.Event()
        self._sending = False
        self._sdes: bytes | None = None  # our CNAME chunk, the same in every report

    async def send(self, parameters: RTCRtpSendParameters) -> None:
        if self._sending:
            return
        self.cname = parameters.rtcp.cname
        self.mid = parameters.muxId
        self.extensions_map.configure(parameters)
        self.extension_ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        primary = parameters.codecs[0]
        self.payload_type = primary.payloadType
        self.clock_rate = primary.clockRate
        for codec in parameters.codecs:
            if is_rtx(codec) and codec.parameters.get("apt") == primary.payloadType:
                self.rtx_payload_type = codec.payloadType
        self.transport._register_rtp_sender(self, parameters)
        self._sending = True
        self.ready.set()

    async def stop(self) -> None:
        if self._sending:
            self.transport._unregister_rtp_sender(self)
            self._sending = False
            bye = bytes(RtcpByePacket(sources=[self._ssrc]))
            # through the egress that protects all our RTCP (its SRTCP index), if up
            if not self.send_rtcp_now(bye) and self.fast_path is None:
                await send_packet(self.transport, bye)
        self.sink = None

    def replaceTrack(self, track: Any) -> None:
        if track is not None:
            raise ValueError("a forwarding sender never carries a track")
        super().replaceTrack(None)

    def send_rtcp_now(self, data: bytes) -> bool:
        """Protect and send one RTCP packet now; False when the connection is not up."""
        return self.fast_path is not None and self.fast_path.send_rtcp(data)

    def send_rtp(self, data: bytes) -> bool:
        """Hot path: protect and send one RTP packet now."""
        fast_path = self.fast_path
        return fast_path is not None and fast_path.send_rtp(data)

    def sender_report(
        self, ntp: int, rtp_timestamp: int, packet_count: int, octet_count: int
    ) -> bytes:
        """An SR (RFC 3550 6.4.1, no report blocks) and, with a CNAME, an SDES after it."""
        data = _SENDER_REPORT.pack(
            0x80,
            RTCP_SR,
            6,  # length in 32-bit words, minus one
            self._ssrc,
            (ntp >> 32) & 0xFFFFFFFF,
            ntp & 0xFFFFFFFF,
            rtp_timestamp & 0xFFFFFFFF,
            packet_count & 0xFFFFFFFF,
            octet_count & 0xFFFFFFFF,
        )
        if self.cname is None:
            return data
        if self._sdes is None:
            self._sdes = bytes(
                RtcpSdesPacket(
                    chunks=[RtcpSourceInfo(ssrc=self._ssrc, items=[(1, self.cname.encode())])]
                )
            )
        return data + self._sdes


_SENDER_REPORT = struct.Struct("!BBHIIIIII")


def codecs_of(transceiver: RTCRtpTransceiver) -> list[RTCRtpCodecParameters]:
    """Codecs negotiated on a transceiver (known once both descriptions are set)."""
    return list(transceiver._codecs)


def header_extensions_of(transceiver: RTCRtpTransceiver) -> Any:
    return list(transceiver._headerExtensions)


CERTIFICATE_MAX_AGE_S = 86_400.0  # aiortc's certificates are valid for 30 days
HOST_ADDRESSES_TTL_S = 5.0


class SharedCertificate(RTCCertificate):
    """A DTLS identity used by many peer connections: fingerprints and context made once.

    aiortc recomputes three fingerprints each time it describes the transport and builds
    an OpenSSL context (certificate and key converted again) for each handshake. The
    context is shared with its session cache off, so every handshake stays a full one,
    with the peer's certificate checked against its own SDP fingerprint as before.
    """

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key, cert)
        self.pid = os.getpid()
        self.created = time.monotonic()
        self._fingerprints = super().getFingerprints()
        self._contexts: dict[tuple[bytes, ...], SSL.Context] = {}

    def getFingerprints(self) -> list[RTCDtlsFingerprint]:
        return [RTCDtlsFingerprint(f.algorithm, f.value) for f in self._fingerprints]

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        key = tuple(profile.openssl_profile for profile in srtp_profiles)
        context = self._contexts.get(key)
        if context is None:
            context = super()._create_ssl_context(srtp_profiles)
            context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
            self._contexts[key] = context
        return context


_process_certificate: SharedCertificate | None = None


def process_certificate() -> SharedCertificate:
    """This process's DTLS certificate for the SFU side, renewed daily and after a fork."""
    global _process_certificate
    certificate = _process_certificate
    if (
        certificate is None
        or certificate.pid != os.getpid()
        or time.monotonic() - certificate.created > CERTIFICATE_MAX_AGE_S
    ):
        certificate = SharedCertificate.generateCertificate()
        _process_certificate = certificate
    return certificate


_sfu_side: ContextVar[bool] = ContextVar("sfu_side", default=False)


class _PeerConnectionCertificate(RTCCertificate):
    """What ``RTCPeerConnection.__init__`` calls: the process certificate for ours only.

    aiortc takes no certificate as a parameter, so its module's name is pointed here;
    any other peer connection of the process (a client in a test or a bench) still gets
    a fresh certificate of its own, exactly as from aiortc.
    """

    @classmethod
    def generateCertificate(cls) -> Any:
        if _sfu_side.get():
            return process_certificate()
        return RTCCertificate.generateCertificate()


def install() -> None:
    """Make aiortc fit for the SFU in this process; called when an ``Sfu`` is made.

    Checks that aiortc, aioice and pylibsrtp are the releases whose private names this
    module uses (``sfu.private_api``; a clear ``IncompatibleDependency`` otherwise), then
    points ``aiortc.rtcpeerconnection``'s certificate factory at
    ``_PeerConnectionCertificate``: a process-wide change, made here on purpose rather
    than as a side effect of importing the SFU. Idempotent.
    """
    private_api.check()
    aiortc.rtcpeerconnection.RTCCertificate = _PeerConnectionCertificate  # type: ignore[misc]


def installed() -> bool:
    """Whether ``install`` has run: the SFU's connections then share the process certificate."""
    return aiortc.rtcpeerconnection.RTCCertificate is _PeerConnectionCertificate


class ForwardingPeerConnection(RTCPeerConnection):
    """An ``RTCPeerConnection`` whose transceivers forward instead of transcoding."""

    def __init__(
        self,
        ice_servers: Sequence[RTCIceServer] = (),
        ice_addresses: Sequence[str] = (),
        port_range: tuple[int, int] | None = None,
        allowed_remote_networks: Sequence[str] = (),
        on_malformed_datagram: OnMalformed | None = None,
    ) -> None:
        token = _sfu_side.set(True)
        try:
            super().__init__(RTCConfiguration(iceServers=list(ice_servers)))
        finally:
            _sfu_side.reset(token)
        self._ice_addresses = list(ice_addresses)
        self._port_range = port_range
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_remote_networks]
        self._accepted_hosts: dict[str, bool] = {}
        self.fast_path: FastPath | None = None
        self.refused_datagrams = 0  # from addresses outside the allowed networks
        self.malformed_datagrams = 0  # that aioice could not parse: dropped
        # remote candidates (SDP and trickled) kept and dropped by the network filter
        self.remote_candidates_accepted = 0
        self.remote_candidates_refused = 0
        self._on_malformed = on_malformed_datagram

    # aiortc calls this (name-mangled private) method to build each transceiver.
    def _RTCPeerConnection__createTransceiver(
        self, direction: str, kind: str, sender_track: Any = None
    ) -> RTCRtpTransceiver:
        transceivers: list[RTCRtpTransceiver] = self._RTCPeerConnection__transceivers  # type: ignore[attr-defined]
        if transceivers:
            dtls = transceivers[0].receiver.transport
            bundled = True
        else:
            dtls = self._RTCPeerConnection__createDtlsTransport()  # type: ignore[attr-defined]
            bundled = False
            self._pin_gathering(dtls)
            self.fast_path = FastPath(dtls)
        transceiver = RTCRtpTransceiver(
            direction=direction,
            kind=kind,
            sender=ForwardingSender(kind, dtls),
            receiver=ForwardingReceiver(kind, dtls),
        )
        transceiver.sender.fast_path = self.fast_path
        transceiver.receiver.fast_path = self.fast_path
        transceiver.receiver._set_rtcp_ssrc(transceiver.sender._ssrc)
        transceiver.sender._stream_id = self._RTCPeerConnection__stream_id  # type: ignore[attr-defined]
        transceiver._bundled = bundled
        transceivers.append(transceiver)
        return transceiver

    def _pin_gathering(self, dtls: RTCDtlsTransport) -> None:
        """Gather host candidates on our addresses (and port range) for this PC only.

        aioice scans the interfaces on every gather, even when the addresses are given;
        here the configured addresses are used as they are, and a scan, when there are
        none, is shared by the joins of the next few seconds.
        """
        connection: Any = dtls.transport.iceGatherer._connection
        original_gather = connection.gather_candidates
        original = connection.get_component_candidates
        chosen = self._ice_addresses
        port_range = self._port_range

        async def gather_candidates() -> None:
            if connection._transport_policy != TransportPolicy.ALL:
                await original_gather()  # relay only: no host address wanted
                self._refuse_other_networks(connection)
                self._guard_datagrams(connection)
                return
            if connection._local_candidates_start:
                return
            connection._local_candidates_start = True
            addresses = list(chosen) or host_addresses(connection._use_ipv4, connection._use_ipv6)
            found = await asyncio.gather(
                *(
                    connection.get_component_candidates(component=component, addresses=addresses)
                    for component in sorted(connection._components)
                )
            )
            for candidates in found:
                connection._local_candidates += candidates
            for protocol in connection._protocols:
                read_natively(protocol)
            self._refuse_other_networks(connection)
            self._guard_datagrams(connection)
            connection._local_candidates_end = True

        async def gather(component: int, addresses: list[str], **kwargs: Any) -> Any:
            if port_range is None:
                return await original(component=component, addresses=addresses, **kwargs)
            return await _gather_in_port_range(connection, component, addresses, port_range)

        connection.gather_candidates = gather_candidates
        connection.get_component_candidates = gather

    def _refuse_other_networks(self, connection: Any) -> None:
        """Drop what comes from outside the allowed networks before aioice sees it.

        The SDP and trickle filters only see announced candidates: a connectivity check
        from another address (the browser's other interfaces, sending to our address)
        would become a peer-reflexive candidate, be answered — traffic to an address we
        must not reach — and could be nominated. STUN and DTLS pass here; RTP and RTCP
        after DTLS are the native ingress's and authenticated by SRTP anyway.
        """
        if not self._allowed:
            return
        for protocol in connection._protocols:
            original = protocol.datagram_received
            if getattr(original, "refuses_other_networks", False):
                continue

            def datagram_received(data: bytes, addr: Any, _o: Any = original) -> None:
                if self._accepts_source(addr[0]):
                    _o(data, addr)
                else:
                    self.refused_datagrams += 1

            datagram_received.refuses_other_networks = True  # type: ignore[attr-defined]
            protocol.datagram_received = datagram_received

    def _guard_datagrams(self, connection: Any) -> None:
        """A datagram aioice cannot parse is dropped and counted, never raised into the
        socket reader (``sfu.malformed_datagrams``)."""
        for protocol in connection._protocols:
            malformed_datagrams.guard(protocol, self._malformed)

    def _malformed(self, addr: Any, error: Exception) -> None:
        self.malformed_datagrams += 1
        if self._on_malformed is not None:
            self._on_malformed(addr, error)

    def _accepts_source(self, host: str) -> bool:
        accepted = self._accepted_hosts.get(host)
        if accepted is None:
            accepted = self.accepts_remote(host)
            if len(self._accepted_hosts) < MAX_REMEMBERED_HOSTS:
                self._accepted_hosts[host] = accepted
        return accepted

    def accepts_remote(self, host: str) -> bool:
        if not self._allowed:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # mDNS names and the like: never resolved
        return any(address in network for network in self._allowed)

    def filter_sdp_candidates(self, sdp: str) -> str:
        """Drop ``a=candidate`` lines whose address is outside the allowed networks."""
        if not self._allowed:
            return sdp
        kept = []
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                parts = line.split()
                if len(parts) > 4 and not self.accepts_remote(parts[4]):
                    self.remote_candidates_refused += 1
                    continue
                self.remote_candidates_accepted += 1
            kept.append(line)
        return "\r\n".join(kept) + "\r\n"

    async def add_remote_candidate(self, candidate: dict[str, Any]) -> bool:
        """Add a trickled candidate (browser JSON shape); False when filtered out."""
        text = str(candidate.get("candidate") or "")
        if not text:
            return False
        parsed = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        if not self.accepts_remote(parsed.ip):
            self.remote_candidates_refused += 1
            return False
        self.remote_candidates_accepted += 1
        parsed.sdpMid = candidate.get("sdpMid")
        index = candidate.get("sdpMLineIndex")
        parsed.sdpMLineIndex = int(index) if index is not None else None
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        await self.addIceCandidate(parsed)
        return True


MAX_REMEMBERED_HOSTS = 64  # source addresses whose verdict a connection keeps


class NativeDatagramTransport(asyncio.DatagramTransport):
    """A host candidate's socket, read by ``Reader`` (recvmmsg in C) on readiness.

    The event loop's own UDP transport makes a system call, a bytes object and an
    address tuple per datagram, and one more call to find the socket empty; this one
    drains every waiting datagram with one call and passes RTP to the connection's
    native ingress without Python objects. Sending is a plain non-blocking ``sendto``:
    a datagram that does not fit the socket buffer is dropped, as the network would.
    """

    def __init__(self, sock: socket.socket, protocol: Any) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._closing = False
        self._extra = {"socket": sock, "sockname": sock.getsockname(), "peername": None}
        self.reader = Reader(self._fd, protocol)
        self._loop.add_reader(self._fd, self.reader)

    def sendto(self, data: Any, addr: Any = None) -> None:
        if self._closing:
            return
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            pass  # the socket buffer is full: lost, as on a congested link
        except OSError as exc:
            self._protocol.error_received(exc)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def get_protocol(self) -> Any:
        return self._protocol

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol
        self.reader.close()
        self.reader = Reader(self._fd, protocol)
        if not self._closing:
            self._loop.add_reader(self._fd, self.reader)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        self.reader.close()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


def read_natively(protocol: Any) -> None:
    """Move a host candidate's socket from the event loop's UDP transport to ours.

    The socket is duplicated, the loop's transport closed (its protocol swapped for a
    blank one first, so aioice never hears of it) and ours made the protocol's
    transport: the candidate, its address and what waits in the socket stay the same.
    """
    transport = getattr(protocol, "transport", None)
    candidate = getattr(protocol, "local_candidate", None)
    if transport is None or isinstance(transport, NativeDatagramTransport):
        return
    if candidate is None or candidate.type != "host":
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    native = socket.socket(fileno=os.dup(sock.fileno()))
    native.setblocking(False)
    transport.set_protocol(asyncio.DatagramProtocol())
    transport.close()
    protocol.connection_made(NativeDatagramTransport(native, protocol))


_host_addresses: dict[tuple[bool, bool], tuple[float, list[str]]] = {}


def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's interface scan, reused for ``HOST_ADDRESSES_TTL_S`` (joins come in bursts)."""
    now = time.monotonic()
    cached = _host_addresses.get((use_ipv4, use_ipv6))
    if cached is None or now - cached[0] > HOST_ADDRESSES_TTL_S:
        cached = (now, aioice.ice.get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        _host_addresses[(use_ipv4, use_ipv6)] = cached
    return list(cached[1])


async def _gather_in_port_range(
    connection: Any, component: int, addresses: Sequence[str], port_range: tuple[int, int]
) -> list[Candidate]:
    """Bind host candidates inside a port range (aioice only binds ephemeral ports)."""
    from aioice.ice import StunProtocol

    loop = asyncio.get_running_loop()
    candidates: list[Candidate] = []
    low, high = port_range
    for address in addresses:
        for port in range(low, high + 1):
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: StunProtocol(connection), local_addr=(address, port)
                )
            except OSError:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * 1024 * 1024)
            host, bound_port = transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=bound_port,
                type="host",
            )
            connection._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
            break
    return candidates


def rewrite_candidate_addresses(sdp: str, announced: str | None) -> str:
    """Write the announced address into our candidates (server behind 1:1 NAT)."""
    if not announced:
        return sdp
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4:
                parts[4] = announced
                line = " ".join(parts)
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def ice_servers_for(servers: Sequence[Any]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in servers
    ]


Callback = Callable[[], None]


def remote_sends(transceiver: RTCRtpTransceiver) -> bool:
    """Whether the remote offer sends media on this m-line (aiortc stores it reversed)."""
    return transceiver._offerDirection in ("recvonly", "sendrecv")


def codec_capabilities_for(kind: str, mime_type: str) -> list[Any]:
    """Our codec capabilities restricted to one codec (and its RTX), for forwarding as-is."""
    capabilities = RTCRtpSender.getCapabilities(kind)
    chosen = [c for c in capabilities.codecs if c.mimeType.lower() == mime_type.lower()]
    if chosen and kind == "video":
        chosen += [c for c in capabilities.codecs if c.mimeType.lower() == "video/rtx"]
    return chosen


def install_impairment(pc: ForwardingPeerConnection, impairment: Admission) -> None:
    """Test only: let ``impairment`` drop what this PC sends, RTP and RTCP alike."""
    transceivers = pc.getTransceivers()
    if not transceivers or pc.fast_path is None:
        raise ValueError("the connection has no transport yet")
    pc.fast_path.impairment = impairment
    ice_transport: Any = transceivers[0].sender.transport.transport
    original = ice_transport._send

    async def send(data: bytes) -> None:
        if impairment.admit(len(data)):
            await original(data)

    ice_transport._send = send
