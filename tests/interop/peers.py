"""Clients that behave like the peers integrators and citizens bring, built on aiortc."""

from __future__ import annotations

import re
from typing import Any

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
