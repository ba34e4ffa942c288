"""Which video codecs a room forwards, and which a participant can decode.

The SFU forwards packets and never transcodes, so a stream reaches a subscriber only in
the codec its publisher sends. A subscribe offer whose m-section carries a codec the
subscriber cannot decode is rejected by it — and when that m-section is the first (the
BUNDLE tag), the whole subscribe connection fails, audio included (Firefox without an
H.264 decoder, facing one H.264 publisher). So a room has a policy:

- VP8 always (every WebRTC browser decodes it; RFC 7742), and first;
- H.264 and VP9 only while every participant of the room can decode them;
- the answer to a publisher lists room codecs only when its offer has one (the
  publisher is asked for VP8 rather than H.264), and keeps its own codec otherwise (a
  sender that has nothing else: its stream goes to those who can decode it);
- a subscriber is never offered a stream it cannot decode: it gets the others and the
  audio, and a ``quality`` report with reason ``codec-unsupported`` for that publisher.

What a participant decodes is what it declared (``Participant.set_receive_codecs``,
the ``codecs`` of the ``join`` frame), else what its own publish offers listed for
video (a browser or aiortc sends and receives the same video codecs), else VP8 alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from sfu.sdp_sections import attribute_values, sections

BASELINE = "video/vp8"
OPTIONAL = ("video/h264", "video/vp9")
UNSUPPORTED_REASON = "codec-unsupported"


def normalise(mime_types: Iterable[str]) -> frozenset[str]:
    """Lower-case video MIME types (``VP8`` alone is read as ``video/vp8``)."""
    found = set()
    for mime in mime_types:
        name = str(mime).strip().lower()
        if not name:
            continue
        if "/" not in name:
            name = f"video/{name}"
        if name.startswith("video/"):
            found.add(name)
    return frozenset(found)


def offered_video_codecs(sdp: str) -> frozenset[str]:
    """The video codecs an SDP lists on its accepted video m-sections (rtx and FEC left out)."""
    _, media = sections(sdp)
    found: set[str] = set()
    for section in media:
        parts = section[0].split()
        if not section[0].startswith("m=video") or len(parts) < 2 or parts[1] == "0":
            continue
        for value in attribute_values(section, "rtpmap"):
            name = value.partition(" ")[2].split("/")[0].lower()
            if name and name not in ("rtx", "red", "ulpfec", "flexfec-03"):
                found.add(f"video/{name}")
    return frozenset(found)


def decodable(declared: frozenset[str] | None, offered: frozenset[str]) -> frozenset[str]:
    """What a participant decodes: declared, else what it offered to send, plus VP8."""
    base = declared if declared is not None else offered
    return base | {BASELINE}


def room_video_codecs(decoders: Iterable[frozenset[str]]) -> list[str]:
    """VP8, then each optional codec that every one of ``decoders`` decodes."""
    every = list(decoders)
    return [BASELINE, *(c for c in OPTIONAL if all(c in d for d in every))]


def is_video(mime_type: str) -> bool:
    return mime_type.lower().startswith("video/")
