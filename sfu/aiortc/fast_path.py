"""RTP and RTCP of one peer connection without aiortc's per-packet coroutines.

Once DTLS is up, RTP skips aioice's per-packet queue, the STUN parse attempt and
aiortc's receive coroutine chain: the UDP callback (the native ``Ingress``) unprotects
SRTP and hands RTP to its layer in C, or an ``RtpView`` to the receiver; egress protects
and calls ``sendto`` on the nominated pair directly. Incoming RTCP is read in place
(``sfu.rtcp_wire``) and dispatched to the sinks synchronously, without aiortc's
per-packet dataclasses. ICE consent checks (RFC 7675), both ways, are
``ice_consent``'s, without aioice's message objects and transactions; DTLS and any
other STUN keep aiortc's path.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtp import RtcpReceiverInfo, RtpPacket

from sfu._datapath import (
    Egress,
    Ingress,
    LayerInletMap,
    flush,
    set_flush_scheduler,
    set_view_factory,
)
from sfu.aiortc.forwarding import (
    ForwardingReceiver,
    ForwardingSender,
    SenderSink,
    log_forward_error,
)
from sfu.aiortc.ice_consent import Consent
from sfu.aiortc.native_socket import NativeDatagramTransport
from sfu.aiortc.srtp import srtp_sessions
from sfu.rtcp_wire import (
    FIR,
    NACK,
    PLI,
    REMB,
    REPORT_BLOCK,
    SENDER_INFO,
    TRANSPORT_CC,
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

# RTCP and DTLS datagrams waiting for aiortc's transport task, per connection: a peer
# sending faster than it reads loses the excess instead of growing our memory
MAX_QUEUED_DATAGRAMS = 256


class Admission(Protocol):
    """Decides whether a datagram leaves (the test-only impairment shim)."""

    def admit(self, size: int) -> bool: ...


set_view_factory(RtpView.parse)  # how a packet needing a decision reaches Python


def _schedule_flush() -> None:
    """Send the packets batched in this wake-up once every ready callback has run."""
    asyncio.get_running_loop().call_soon(flush)  # no loop: RuntimeError, C sends at once


set_flush_scheduler(_schedule_flush)


class FastPath:
    """RTP in and out of one peer connection without aiortc's per-packet coroutines.

    aioice puts every datagram in an ``asyncio.Queue`` after trying to parse it as STUN;
    aiortc's DTLS transport awaits that queue, unprotects, builds a full ``RtpPacket``
    and awaits the receiver. Here, once DTLS is up, the socket's callback is the native
    ``Ingress``: it unprotects SRTP and hands RTP of a known SSRC to its ``LayerInlet``
    (``sfu/_datapath.c``); RTP of an SSRC not known yet comes to ``_receive_slow`` so the
    SSRC can be learnt through aiortc's router. RTCP, unprotected by ``Ingress`` (or by
    aiortc's task, if it was queued before), comes to ``_receive_rtcp``. Egress protects
    and sends on the nominated candidate pair (``Egress``). ICE consent checks are
    answered and sent by ``consent`` (``ice_consent``); DTLS and any other STUN keep
    aiortc's path.
    """

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self.dtls = dtls
        self.receivers: dict[int, ForwardingReceiver] = {}
        self.inlets = LayerInletMap()  # SSRC → its producer layer's LayerInlet, read by C
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
        return self.egress.impairment

    @impairment.setter
    def impairment(self, value: Admission | None) -> None:
        self.egress.impairment = value

    @property
    def srtp_errors(self) -> int:
        return sum(int(ingress.srtp_errors) for _, _, ingress in self._hooked)

    @property
    def fast_packets(self) -> int:
        """RTP packets handed to a native ``LayerInlet`` without coming to Python."""
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
            ingress = Ingress(self.inlets)
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
        self.inlets.clear()
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
        names, transport-wide feedback to the sender of the SSRC it names (a browser
        names the last packet's). A compound with any invalid part is dropped whole, as
        aiortc drops it, and counted. Never raises: a sink's error is logged (the rest of
        its compound is not dispatched), as it would otherwise end aiortc's transport task.
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
                elif kind == TRANSPORT_CC:
                    sink = _sender_sink(senders.get(media_ssrc(plain, start)))
                    if sink is not None:
                        sink.on_transport_feedback(plain[start:end])
        except Exception as error:
            log_forward_error(error)

    async def _receive_queued_rtcp(self, data: bytes) -> None:
        """aiortc's ``RTCDtlsTransport._handle_rtcp_data``, replaced for this transport."""
        self._receive_rtcp(data)

    def _receive_slow(self, plain: bytes) -> None:
        """RTP of an SSRC with no native ``LayerInlet`` yet: learnt here, or RTX, or dropped."""
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
        if not isinstance(receiver, ForwardingReceiver) or not receiver.started:
            return None
        self.receivers[ssrc] = receiver
        return receiver

    def forget(self, receiver: ForwardingReceiver) -> None:
        for ssrc in [s for s, r in self.receivers.items() if r is receiver]:
            del self.receivers[ssrc]
            self.inlets.pop(ssrc, None)

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
    return next((s for s in senders.values() if getattr(s, "rtx_ssrc", None) == ssrc), None)


def _sender_sink(sender: object) -> SenderSink | None:
    """The sink of one of our senders (aiortc's router holds them as ``RtpSender``)."""
    return sender.sink if isinstance(sender, ForwardingSender) else None
