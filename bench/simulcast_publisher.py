"""A simulcast publisher made of aiortc parts, for tests: what a browser sends, cheaply.

aiortc cannot publish simulcast, so this client does what a browser does by hand: its
publish offer carries ``a=rid``/``a=simulcast`` and the rid header extension on the
video m-line (and, like Chromium, no ``a=ssrc`` there), and once DTLS is up it sends
three VP8 layers itself through the connection's transport, each on its own SSRC,
every packet stamped with its rid. The layers are pre-encoded clips
(``bench/media_clip.py``) at three sizes; a PLI for a layer's SSRC restarts that
layer's clip on its keyframe; ``send_layers`` stops and restarts layers as a browser
does when the SFU asks (dynacast). Audio goes through aiortc's own sender, pre-encoded too.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import (
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    HeaderExtensionsMap,
    RtcpPsfbPacket,
    RtpPacket,
    wrap_rtx,
)

from bench.ice_pinning import restrict_host_addresses
from bench.media_clip import EncodedClip, VideoProfile, audio_clip, video_clip
from bench.synthetic_tracks import PacketTrack
from sfu import Participant

MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"
RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
RID_EXTENSION_ID = 10  # aiortc's own offer uses 1 to 3
REPAIRED_RID_EXTENSION_ID = 11
HISTORY = 64

LAYER_PROFILES: tuple[tuple[str, VideoProfile], ...] = (
    ("q", VideoProfile(160, 90, 80_000, fps=15, keyframe_interval=30)),
    ("h", VideoProfile(320, 180, 250_000, fps=15, keyframe_interval=30)),
    ("f", VideoProfile(640, 360, 600_000, fps=15, keyframe_interval=30)),
)
LAYER_WIDTHS = {rid: profile.width for rid, profile in LAYER_PROFILES}


class _SilentTrack(MediaStreamTrack):
    """Keeps aiortc's video sender idle: the layers are sent beside it."""

    kind = "video"

    async def recv(self) -> Any:
        await asyncio.Event().wait()


@dataclass(eq=False)  # hashable: aiortc's RTCP router keeps it in a set
class Layer:
    rid: str
    clip: EncodedClip
    fps: int
    ssrc: int = field(default_factory=lambda: random.randint(1, 0xFFFFFFFF))
    rtx_ssrc: int = field(default_factory=lambda: random.randint(1, 0xFFFFFFFF))
    sent: deque[RtpPacket] = field(default_factory=lambda: deque(maxlen=HISTORY))
    active: bool = True
    packets_sent: int = 0
    keyframe_requests: int = 0
    _index: int = 0
    _restart: bool = False

    @property
    def _ssrc(self) -> int:  # the name aiortc's RTP router knows a sender's SSRC by
        return self.ssrc

    @_ssrc.setter
    def _ssrc(self, value: int) -> None:
        self.ssrc = value

    async def _handle_rtcp_packet(self, packet: Any) -> None:
        """aiortc's RTCP router hands us what names our SSRC (we registered as a sender)."""
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            self.keyframe_requests += 1
            self._restart = True


def _munge_offer(sdp: str, video_mid: str, rids: list[str]) -> str:
    """Add rids, simulcast and the rid extension to the video m-line; drop its a=ssrc."""
    lines = sdp.splitlines()
    out: list[str] = []
    in_video = False
    for line in lines:
        if line.startswith("m="):
            if in_video:
                out += [f"a=rid:{rid} send" for rid in rids]
                out.append("a=simulcast:send " + ";".join(rids))
            in_video = False
        if line == f"a=mid:{video_mid}":
            in_video = True
            out.append(line)
            out.append(f"a=extmap:{RID_EXTENSION_ID} {RID_URI}")
            out.append(f"a=extmap:{REPAIRED_RID_EXTENSION_ID} {REPAIRED_RID_URI}")
            continue
        if in_video and line.startswith(("a=ssrc:", "a=ssrc-group:")):
            continue
        out.append(line)
    if in_video:
        out += [f"a=rid:{rid} send" for rid in rids]
        out.append("a=simulcast:send " + ";".join(rids))
    return "\r\n".join(out) + "\r\n"


class SimulcastPublisher:
    """Publishes audio and a three-layer simulcast camera to one SFU participant."""

    def __init__(self, participant: Participant, addresses: tuple[str, ...] = ("127.0.0.1",)):
        self.participant = participant
        self.addresses = addresses
        self.pc: RTCPeerConnection | None = None
        self.layers = [
            Layer(rid, video_clip(profile), profile.fps) for rid, profile in LAYER_PROFILES
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self._extensions = HeaderExtensionsMap()
        self._payload_type = 0
        self._rtx_payload_type = 0
        self._transport: Any = None

    def layer(self, rid: str) -> Layer:
        return next(layer for layer in self.layers if layer.rid == rid)

    async def publish(self) -> None:
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc = pc
        audio = PacketTrack(audio_clip())
        pc.addTransceiver(audio, direction="sendonly")
        video = pc.addTransceiver(_SilentTrack(), direction="sendonly")
        restrict_host_addresses(pc, self.addresses)
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        video_mid = str(video.mid)
        rids = [layer.rid for layer in self.layers]  # in ``self.layers``' order
        offer = _munge_offer(pc.localDescription.sdp, video_mid, rids)
        answer = await self.participant.publish(offer, sources={"0": "mic", video_mid: "camera"})
        assert f"a=simulcast:recv {';'.join(rids)}" in answer, "the SFU did not accept simulcast"
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        mid_id = next(e.id for e in video._headerExtensions if e.uri == MID_URI)
        abs_id = next((e.id for e in video._headerExtensions if e.uri == ABS_SEND_TIME_URI), 0)
        extensions = [
            RTCRtpHeaderExtensionParameters(id=mid_id, uri=MID_URI),
            RTCRtpHeaderExtensionParameters(id=RID_EXTENSION_ID, uri=RID_URI),
            RTCRtpHeaderExtensionParameters(id=REPAIRED_RID_EXTENSION_ID, uri=REPAIRED_RID_URI),
        ]
        if abs_id:
            extensions.append(RTCRtpHeaderExtensionParameters(id=abs_id, uri=ABS_SEND_TIME_URI))
        self._extensions.configure(RTCRtpParameters(headerExtensions=extensions))
        codec = video._codecs[0]
        assert codec.mimeType.lower() == "video/vp8" and codec.payloadType is not None
        self._payload_type = codec.payloadType
        rtx = next(
            c
            for c in video._codecs
            if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") == codec.payloadType
        )
        assert rtx.payloadType is not None
        self._rtx_payload_type = rtx.payloadType
        self._transport = video.sender.transport
        transport = video.sender.transport
        for layer in self.layers:
            transport._rtp_router.register_sender(layer, layer.ssrc)
            self._tasks.append(
                asyncio.create_task(self._pump(transport, layer, video_mid), name=layer.rid)
            )

    async def _pump(self, transport: Any, layer: Layer, mid: str) -> None:
        """Send one layer's clip in real time, looping; restart on its keyframe on PLI."""
        period = 1.0 / layer.fps
        step = 90_000 // layer.fps
        sequence = random.randint(0, 0xFFFF)
        timestamp = random.randint(0, 0xFFFFFFFF)
        picture_id = random.randint(0, 0x7FFF)
        start = time.monotonic()
        frame_number = 0
        while True:
            due = start + frame_number * period
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            frame_number += 1
            timestamp = (timestamp + step) & 0xFFFFFFFF
            if layer._restart:
                layer._restart = False
                layer._index = 0
            data = layer.clip.frames[layer._index]
            layer._index = (layer._index + 1) % len(layer.clip.frames)
            if not layer.active or transport.state != "connected":
                continue
            payloads = Vp8Encoder._packetize(data, picture_id)
            picture_id = (picture_id + 1) & 0x7FFF
            for index, payload in enumerate(payloads):
                packet = RtpPacket(
                    payload_type=self._payload_type,
                    marker=int(index == len(payloads) - 1),
                    sequence_number=sequence,
                    timestamp=timestamp,
                    ssrc=layer.ssrc,
                    payload=payload,
                )
                packet.extensions.mid = mid
                packet.extensions.rtp_stream_id = layer.rid
                packet.extensions.abs_send_time = int(time.time() * 262144) & 0xFFFFFF
                sequence = (sequence + 1) & 0xFFFF
                with contextlib.suppress(ConnectionError):
                    await transport._send_rtp(packet.serialize(self._extensions))
                    layer.packets_sent += 1
                    layer.sent.append(packet)

    def send_layers(self, layers: dict[str, bool]) -> None:
        """Start or stop encodings by rid, as a browser's ``setParameters`` does for the
        SFU's ``send-layers``: a layer started again begins on a keyframe."""
        for layer in self.layers:
            active = layers.get(layer.rid)
            if active is None or active == layer.active:
                continue
            layer.active = active
            if active:
                layer._restart = True

    async def retransmit(self, rid: str, count: int) -> int:
        """Resend a layer's last packets as RTX, as a browser answers a NACK: on the
        layer's own RTX SSRC, which no SDP line names, stamped with its repaired rid."""
        layer = self.layer(rid)
        sent = 0
        for index, original in enumerate(list(layer.sent)[-count:]):
            rtx = wrap_rtx(original, self._rtx_payload_type, index, layer.rtx_ssrc)
            rtx.extensions.rtp_stream_id = None
            rtx.extensions.repaired_rtp_stream_id = rid
            with contextlib.suppress(ConnectionError):
                await self._transport._send_rtp(rtx.serialize(self._extensions))
                sent += 1
        return sent

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.pc is not None:
            await self.pc.close()
