"""aiortc's receiver and sender, replaced by ones that forward RTP instead of coding it.

- ``ForwardingReceiver``: RTP handed over at ``_handle_rtp_packet`` (after SRTP and the
  bundle router) straight to a sink; RTX unwrapped; its sender reports reach the sink
  from ``FastPath``. No jitter buffer, no depacketizer, no decoder thread.
- ``ForwardingSender``: registers its SSRC with the DTLS transport for RTCP routing and
  sends whatever bytes the SFU gives it; its RTCP (receiver reports, NACK, PLI/FIR,
  REMB) reaches its sink from ``FastPath``. It never has a track, never pulls frames,
  never creates an encoder; sender reports are the sink's to build.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, Protocol

import structlog
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport
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
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    RtpPacket,
    pack_remb_fci,
    wrap_rtx,
)

from sfu._datapath import Egress, LayerInletMap
from sfu.rtp_view import RtpView

log = structlog.get_logger(__name__)

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
    def on_transport_feedback(self, feedback: bytes) -> None: ...


class PacketPath(Protocol):
    """What a receiver and a sender use of their connection's ``FastPath``."""

    egress: Egress
    inlets: LayerInletMap

    def forget(self, receiver: ForwardingReceiver) -> None: ...
    def send_rtp(self, data: bytes) -> bool: ...
    def send_rtcp(self, data: bytes) -> bool: ...


async def send_packet(transport: RTCDtlsTransport, data: bytes) -> bool:
    """SRTP-protect and send; False when the transport is not (or no longer) up."""
    try:
        await transport._send_rtp(data)
    except ConnectionError:
        return False
    return True


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
        self.fast_path: PacketPath | None = None

    @property
    def track(self) -> Any:
        return self._track

    @property
    def started(self) -> bool:
        """Whether ``receive`` has run: its SSRCs are in the DTLS transport's router."""
        return self._started

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
                assert codec.payloadType is not None  # negotiated codecs have one
                self._rtx_payload_types[codec.payloadType] = int(str(codec.parameters["apt"]))
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
        self.fast_path: PacketPath | None = None
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

    @property
    def ssrc(self) -> int:
        """The SSRC this sender's media goes out with (aiortc draws it at random)."""
        return int(self._ssrc)

    @property
    def rtx_ssrc(self) -> int:
        """The SSRC of this sender's retransmission (RTX) stream."""
        return int(self._rtx_ssrc)

    def rtx_packet(self, data: bytes, sequence_number: int) -> bytes:
        """One of our RTP packets wrapped for the RTX stream (RFC 4588), numbered
        ``sequence_number``; needs ``rtx_payload_type``."""
        assert self.rtx_payload_type is not None
        original = RtpPacket.parse(data, self.extensions_map)
        wrapped = wrap_rtx(original, self.rtx_payload_type, sequence_number, self._rtx_ssrc)
        return bytes(wrapped.serialize(self.extensions_map))

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
