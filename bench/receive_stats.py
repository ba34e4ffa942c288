"""Counting what a bot receives, without aiortc's jitter buffer or decoder.

A bot that decodes every frame costs more than the server it measures. We replace
each receiver's RTP entry point with a counter: packets, bytes, loss from sequence
gaps, late (reordered) packets, the time of the first packet. Video is decoded only
on a sample: the first complete keyframe is reassembled and decoded once, to prove
the stream is real VP8 and not just packets.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCPeerConnection, RTCSessionDescription, rtcrtpreceiver
from aiortc.rtp import RtpPacket

_RTX_RE = re.compile(r"^a=rtpmap:(\d+) rtx/", re.MULTILINE)


@dataclass
class _SsrcState:
    """One received stream; also read by aiortc's receiver to send RTCP receiver reports
    (``fraction_lost``, ``packets_lost``, ``max_seq``, ``jitter``), as a browser would."""

    first_seq: int
    highest_seq: int  # extended (with wrap-around cycles)
    received: int = 0
    _expected_prior: int = 0
    _received_prior: int = 0

    @property
    def packets_lost(self) -> int:
        return max(0, self.highest_seq - self.first_seq + 1 - self.received)

    @property
    def fraction_lost(self) -> int:
        expected = self.highest_seq - self.first_seq + 1
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior, self._received_prior = expected, self.received
        lost = expected_interval - received_interval
        return 0 if expected_interval <= 0 or lost <= 0 else (lost << 8) // expected_interval

    @property
    def max_seq(self) -> int:
        return self.highest_seq & 0xFFFFFFFF

    jitter = 0


@dataclass
class KindStats:
    """What arrived for one media kind (all SSRCs of that kind together)."""

    packets: int = 0
    bytes: int = 0
    late: int = 0
    retransmissions: int = 0
    first_packet_at: float | None = None
    ssrcs: dict[int, _SsrcState] = field(default_factory=dict)

    @property
    def expected(self) -> int:
        return sum(s.highest_seq - s.first_seq + 1 for s in self.ssrcs.values())

    @property
    def received_media(self) -> int:
        return sum(s.received for s in self.ssrcs.values())

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received_media)


@dataclass
class ReceiveStats:
    """Counters of one bot's subscribe side; ``snapshot()`` for a measurement window."""

    created_at: float = field(default_factory=time.monotonic)
    kinds: dict[str, KindStats] = field(
        default_factory=lambda: {"audio": KindStats(), "video": KindStats()}
    )
    decoded_sample: tuple[int, int] | None = None  # (width, height) of the sampled keyframe
    media_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _keyframe_parts: list[bytes] | None = None
    _sample_done: bool = False

    @property
    def first_packet_at(self) -> float | None:
        times = [k.first_packet_at for k in self.kinds.values() if k.first_packet_at is not None]
        return min(times) if times else None

    def snapshot(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for kind, stats in self.kinds.items():
            out[f"{kind}_packets"] = stats.packets
            out[f"{kind}_bytes"] = stats.bytes
            out[f"{kind}_expected"] = stats.expected
            out[f"{kind}_lost"] = stats.lost
            out[f"{kind}_late"] = stats.late
        return out

    @property
    def sample_pending(self) -> bool:
        return not self._sample_done

    def on_packet(self, kind: str, packet: RtpPacket, is_rtx: bool) -> None:
        self.count(kind, packet.ssrc, packet.sequence_number, len(packet.payload), is_rtx)
        if kind == "video" and not self._sample_done and not is_rtx:
            self._sample_keyframe(packet)

    def count(self, kind: str, ssrc: int, seq: int, payload_bytes: int, is_rtx: bool) -> None:
        stats = self.kinds[kind]
        stats.packets += 1
        stats.bytes += payload_bytes
        if stats.first_packet_at is None:
            stats.first_packet_at = time.monotonic()
            self.media_arrived.set()
        if is_rtx:
            stats.retransmissions += 1
            return
        state = stats.ssrcs.get(ssrc)
        if state is None:
            stats.ssrcs[ssrc] = _SsrcState(seq, seq, 1)
            return
        state.received += 1
        top = state.highest_seq
        delta = (seq - top) & 0xFFFF
        if delta == 0:
            return
        if delta < 0x8000:
            state.highest_seq = top + delta
        else:
            stats.late += 1

    def _sample_keyframe(self, packet: RtpPacket) -> None:
        payload = packet.payload
        start, offset = _vp8_descriptor(payload)
        if offset is None:
            return
        if start:
            is_keyframe = offset < len(payload) and not (payload[offset] & 0x01)
            self._keyframe_parts = [payload[offset:]] if is_keyframe else None
        elif self._keyframe_parts is not None:
            self._keyframe_parts.append(payload[offset:])
        if packet.marker and self._keyframe_parts is not None:
            self._sample_done = True
            self.decoded_sample = _decode_vp8(b"".join(self._keyframe_parts))
            self._keyframe_parts = None


def _vp8_descriptor(payload: bytes) -> tuple[bool, int | None]:
    """(start of partition 0, offset of the VP8 payload) from the RTP descriptor."""
    if not payload:
        return False, None
    first = payload[0]
    offset = 1
    if first & 0x80:  # X: extension byte
        if len(payload) < 2:
            return False, None
        ext = payload[1]
        offset = 2
        if ext & 0x80:  # I: picture id
            offset += 2 if len(payload) > offset and payload[offset] & 0x80 else 1
        if ext & 0x40:  # L: TL0PICIDX
            offset += 1
        if ext & 0x30:  # T or K
            offset += 1
    start = bool(first & 0x10) and (first & 0x07) == 0
    return start, offset


def _decode_vp8(frame: bytes) -> tuple[int, int] | None:
    try:
        codec = av.CodecContext.create("libvpx", "r")
        for decoded in codec.decode(av.Packet(frame)):
            return decoded.width, decoded.height
    except av.error.FFmpegError:
        return None
    return None


def _rtx_payload_types(description: RTCSessionDescription | None) -> frozenset[int]:
    if description is None:
        return frozenset()
    return frozenset(int(pt) for pt in _RTX_RE.findall(description.sdp.replace("\r", "")))


def count_received_media(pc: RTCPeerConnection, stats: ReceiveStats) -> None:
    """Route every RTP packet arriving on ``pc``'s receivers into ``stats``.

    Call after ``setRemoteDescription`` and before the DTLS transport is up (i.e.
    before the answer leaves), so no packet reaches aiortc's decoding path.
    """
    rtx = _rtx_payload_types(pc.remoteDescription)
    for transceiver in pc.getTransceivers():
        receiver: Any = transceiver.receiver
        if getattr(receiver, "_bench_counted", False):
            continue
        kind = transceiver.kind

        async def on_rtp(
            packet: RtpPacket,
            arrival_time_ms: int,
            _kind: str = kind,
            _reported: dict[int, Any] = receiver._RTCRtpReceiver__remote_streams,
        ) -> None:
            is_rtx = packet.payload_type in rtx
            stats.on_packet(_kind, packet, is_rtx)
            if not is_rtx and packet.ssrc not in _reported:
                state = stats.kinds[_kind].ssrcs.get(packet.ssrc)
                if state is not None:  # the receiver's RTCP task now reports on it
                    _reported[packet.ssrc] = state

        receiver._handle_rtp_packet = on_rtp
        receiver._bench_counted = True
        _count_raw_datagrams(receiver.transport, pc, stats, rtx)


SRTP_TAG_BYTES = {  # authentication tag after the payload, by negotiated profile
    "SRTP_AEAD_AES_256_GCM": 16,
    "SRTP_AEAD_AES_128_GCM": 16,
    "SRTP_AES128_CM_SHA1_80": 10,
    "SRTP_AES128_CM_SHA1_32": 4,
}


class _RawRtpCounter:
    """Counts RTP of known SSRCs from the fixed header alone.

    The header of an SRTP packet is in the clear, so once an SSRC is known a packet can
    be counted (sequence, size) before any decryption: the UDP callback does it and the
    datagram goes no further. A new SSRC, and video until the keyframe sample is
    decoded, still take aiortc's full path (unprotect, parse, ``on_rtp`` above), which
    teaches this counter the SSRC's kind; so does RTCP and everything not RTP.
    """

    def __init__(self, pc: RTCPeerConnection, stats: ReceiveStats, rtx: frozenset[int]) -> None:
        self.pc = pc
        self.stats = stats
        self.rtx = rtx
        self.kinds: dict[int, str] = {}
        self.tag_bytes = 0

    def learn(self, ssrc: int, router: Any) -> None:
        receiver = router.ssrc_table.get(ssrc)
        if receiver is not None:
            for transceiver in self.pc.getTransceivers():
                if transceiver.receiver is receiver:
                    self.kinds[ssrc] = transceiver.kind

    def count(self, data: bytes, tag_bytes: int) -> bool:
        """Count ``data`` if its SSRC is known (True), else leave it to the full path."""
        ssrc = int.from_bytes(data[8:12], "big")
        kind = self.kinds.get(ssrc)
        if kind is None or (kind == "video" and self.stats.sample_pending):
            return False
        header = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= header + 4:  # header extension
            header += 4 + 4 * int.from_bytes(data[header + 2 : header + 4], "big")
        self.stats.count(
            kind,
            ssrc,
            int.from_bytes(data[2:4], "big"),
            max(0, len(data) - header - tag_bytes),
            (data[1] & 0x7F) in self.rtx,
        )
        return True


def _count_raw_datagrams(
    transport: Any, pc: RTCPeerConnection, stats: ReceiveStats, rtx: frozenset[int]
) -> None:
    """Hook the DTLS transport (learning SSRCs) and, once connected, its UDP sockets."""
    if getattr(transport, "_bench_raw_counting", False):
        return
    transport._bench_raw_counting = True
    counter = _RawRtpCounter(pc, stats, rtx)
    full_path = transport._handle_rtp_data
    router = transport._rtp_router

    async def on_rtp_data(data: bytes, arrival_time_ms: int) -> None:
        if counter.count(data, 0):
            return
        await full_path(data, arrival_time_ms)
        ssrc = int.from_bytes(data[8:12], "big")
        if ssrc not in counter.kinds:
            counter.learn(ssrc, router)

    transport._handle_rtp_data = on_rtp_data

    def on_state() -> None:
        if transport.state == "connected":
            _count_at_udp_level(transport, counter)

    transport.on("statechange", on_state)


def _count_at_udp_level(transport: Any, counter: _RawRtpCounter) -> None:
    """Count known RTP right in the UDP callback: no STUN parse attempt, no queue, no
    coroutine, no decryption (aiortc's path costs several times that per packet)."""
    try:
        profile = bytes(transport._ssl.get_selected_srtp_profile()).decode()
    except Exception:
        return  # unknown profile: the DTLS-level counter above still counts
    tag_bytes = SRTP_TAG_BYTES.get(profile)
    if tag_bytes is None:
        return
    for protocol in transport.transport._connection._protocols:
        if getattr(protocol, "_bench_counting", False):
            continue
        protocol._bench_counting = True
        original = protocol.datagram_received

        def datagram_received(
            data: bytes, addr: Any, _original: Any = original, _count: Any = counter.count
        ) -> None:
            # RTP (version 2), not RTCP (packet types 192-223 where RTP has its payload type)
            is_rtp = 127 < data[0] < 192 and len(data) > 12 and not 191 < data[1] < 224
            if not (is_rtp and _count(data, tag_bytes)):
                _original(data, addr)

        protocol.datagram_received = datagram_received


def _no_estimator() -> None:
    return None


class CountingPeerConnection(RTCPeerConnection):
    """A peer connection whose received RTP only feeds a ``ReceiveStats``."""

    def __init__(self, stats: ReceiveStats, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.receive_stats = stats

    # aiortc calls this (name-mangled private) method to build each transceiver.
    def _RTCPeerConnection__createTransceiver(self, *args: Any, **kwargs: Any) -> Any:
        """Each aiortc video receiver allocates a REMB estimator (a thousand 1 ms
        buckets), a large share of a bot's CPU per join; a counting receiver never
        feeds it. The swap lasts this synchronous call only: other peer connections in
        the process keep theirs."""
        estimator = rtcrtpreceiver.RemoteBitrateEstimator
        rtcrtpreceiver.RemoteBitrateEstimator = _no_estimator  # type: ignore[assignment,misc]
        try:
            return super()._RTCPeerConnection__createTransceiver(  # type: ignore[misc]
                *args, **kwargs
            )
        finally:
            rtcrtpreceiver.RemoteBitrateEstimator = estimator  # type: ignore[misc]

    async def setRemoteDescription(self, sessionDescription: RTCSessionDescription) -> None:
        await super().setRemoteDescription(sessionDescription)
        count_received_media(self, self.receive_stats)
