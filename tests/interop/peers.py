"""Clients that behave like the peers integrators and citizens bring, built on aiortc."""

from __future__ import annotations

import re
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.rtcdtlstransport import RTCCertificate, generate_certificate
from cryptography.hazmat.primitives.asymmetric import rsa
from OpenSSL import SSL

from signaling.client import SignalingClient


def without_codec(sdp: str, codec: str) -> str:
    """The SDP with one codec (and the RTX repairing it) removed from every m-section, as
    a peer lacking that decoder sees an offer: an m-section left with no codec stays so."""
    lines = sdp.splitlines()
    dropped: set[str] = set()
    for line in lines:
        found = re.match(r"a=rtpmap:(\d+) ([^/]+)/", line)
        if found and found.group(2).lower() == codec.lower():
            dropped.add(found.group(1))
    for line in lines:
        found = re.match(r"a=fmtp:(\d+) apt=(\d+)", line)
        if found and found.group(2) in dropped:
            dropped.add(found.group(1))
    out = []
    for line in lines:
        if line.startswith("m="):
            parts = line.split()
            line = " ".join(parts[:3] + [pt for pt in parts[3:] if pt not in dropped])
        found = re.match(r"a=(rtpmap|fmtp|rtcp-fb):(\d+)", line)
        if found and found.group(2) in dropped:
            continue
        out.append(line)
    return "\r\n".join(out) + "\r\n"


class NoH264Client(SignalingClient):
    """A subscriber without an H.264 decoder (Firefox without OpenH264): an offered
    m-section carrying H.264 only fails its whole subscribe connection, as there."""

    async def _answer_offer(self, frame: dict[str, Any]) -> None:
        await super()._answer_offer({**frame, "sdp": without_codec(frame["sdp"], "H264")})


# an RSA peer's suites, as OpenSSL's defaults order them for an RSA certificate
RSA_PEER_SUITES = (
    b"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"
)


class RsaCertificate(RTCCertificate):
    """A DTLS identity with an RSA 2048 key (GStreamer webrtcbin's and many gateways'
    default), offering the suites an OpenSSL peer with such a key offers."""

    @classmethod
    def generate(cls) -> RsaCertificate:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(key=key, cert=generate_certificate(key))  # type: ignore[arg-type]

    def _create_ssl_context(self, srtp_profiles: list[Any]) -> SSL.Context:
        context = super()._create_ssl_context(srtp_profiles)
        context.set_cipher_list(RSA_PEER_SUITES)
        return context


class RsaClient(SignalingClient):
    """A client whose two peer connections present an RSA certificate: DTLS server on
    publish (it offers ``actpass``, the SFU answers ``active``), DTLS client on
    subscribe (it answers the SFU's ``actpass`` with ``active``)."""

    def _new_peer_connection(self) -> RTCPeerConnection:
        pc = super()._new_peer_connection()
        pc._RTCPeerConnection__certificates = [RsaCertificate.generate()]  # type: ignore[attr-defined]
        return pc

    @staticmethod
    def dtls_roles(pc: RTCPeerConnection) -> set[str]:
        return {str(t.sender.transport._role) for t in pc.getTransceivers()}


def h264_only_mids(offer_sdp: str) -> list[str]:
    """The mids of video m-sections offering H.264 and no other media codec."""
    mids = []
    for block in offer_sdp.split("\r\nm=")[1:]:
        lines = block.split("\r\n")
        if not lines[0].startswith("video"):
            continue
        names = {
            line.split(" ", 1)[1].split("/")[0].lower()
            for line in lines
            if line.startswith("a=rtpmap:")
        }
        mid = next((line[6:] for line in lines if line.startswith("a=mid:")), None)
        if mid is not None and names - {"rtx"} == {"h264"}:
            mids.append(mid)
    return mids


def rejecting(answer_sdp: str, mids: list[str]) -> str:
    """The answer with those m-sections rejected (port 0, inactive), as Firefox writes
    an m-section whose codecs it cannot decode."""
    out: list[str] = []
    current: str | None = None
    for line in answer_sdp.splitlines():
        if line.startswith("m="):
            current = line
        if line.startswith("a=mid:") and line[6:] in mids and current is not None:
            index = out.index(current)
            parts = current.split()
            out[index] = " ".join([parts[0], "0", *parts[2:]])
        out.append(line.replace("a=sendonly", "a=inactive").replace("a=recvonly", "a=inactive"))
    return "\r\n".join(out) + "\r\n"


class FirefoxLikeNoH264Client(SignalingClient):
    """Says nothing of its codecs in ``join`` and offers H.264 when publishing (so the
    SFU takes it to decode H.264), yet rejects every H.264-only m-section of a subscribe
    offer in its answer, as Firefox without OpenH264 does."""

    _last_offer = ""

    async def _answer_offer(self, frame: dict[str, Any]) -> None:
        self._last_offer = str(frame["sdp"])
        await super()._answer_offer(frame)

    async def send(self, frame: Any) -> None:
        mids = h264_only_mids(self._last_offer)
        if frame.get("type") == "answer" and mids:
            frame = {**frame, "sdp": rejecting(frame["sdp"], mids)}
        await super().send(frame)
