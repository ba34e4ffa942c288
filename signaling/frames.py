"""Client frame schemas: each frame type parsed into a typed value, field by field.

Every refusal names the offending field, so a client developer sees at once what
to fix; unknown extra fields are ignored so that additive protocol changes stay
compatible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from signaling.errors import FrameRefused, bad_field

PROTOCOL_VERSION = 1
SOURCES = frozenset({"camera", "mic", "screen"})
PeerConnectionName = Literal["publish", "subscribe"]
PEER_CONNECTIONS: frozenset[PeerConnectionName] = frozenset({"publish", "subscribe"})
VideoCapMode = Literal["auto", "audio-only"]
VIDEO_CAP_MODES: frozenset[VideoCapMode] = frozenset({"auto", "audio-only"})
MAX_ID_CHARS = 64
MAX_SDP_CHARS = 60_000
MAX_PARTICIPANT_ID_CHARS = 128
MAX_FILE_BYTES = 100 * 1024 * 1024
_MID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,16}$")
_MIME_RE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+\-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+\-]{0,63}$")
_URL_PATH_RE = re.compile(
    r"^/api/[A-Za-z0-9._~!$&'()*+,;=:@%/\-]*(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?\-]*)?$"
)


_Choice = TypeVar("_Choice", bound=str)


class FieldReader:
    """Reads typed fields out of one frame, raising ``bad-field`` with the field name."""

    def __init__(self, frame: Mapping[str, Any]) -> None:
        self._frame = frame

    def present(self, name: str) -> bool:
        return self._frame.get(name) is not None

    def string(self, name: str, *, max_chars: int, min_chars: int = 1) -> str:
        value = self._frame.get(name)
        if not isinstance(value, str):
            raise bad_field(name, f"'{name}' must be a string")
        if not min_chars <= len(value) <= max_chars:
            raise bad_field(name, f"'{name}' must have {min_chars}–{max_chars} characters")
        return value

    def choice(self, name: str, choices: frozenset[_Choice]) -> _Choice:
        """The field's value, typed as the choices are (a set of literals gives a literal)."""
        value = self._frame.get(name)
        for choice in choices:
            if value == choice:
                return choice
        raise bad_field(name, f"'{name}' must be one of {', '.join(sorted(choices))}")

    def integer(self, name: str, *, minimum: int, maximum: int) -> int:
        value = self._frame.get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_field(name, f"'{name}' must be an integer")
        if not minimum <= value <= maximum:
            raise bad_field(name, f"'{name}' must be between {minimum} and {maximum}")
        return value

    def strings(self, name: str, *, max_items: int, max_chars: int) -> tuple[str, ...]:
        value = self._frame.get(name)
        if not isinstance(value, list) or len(value) > max_items:
            raise bad_field(name, f"'{name}' must be a list of at most {max_items} strings")
        if not all(isinstance(v, str) and 1 <= len(v) <= max_chars for v in value):
            raise bad_field(name, f"each of '{name}' must be a string of 1–{max_chars} characters")
        return tuple(value)

    def mapping(self, name: str) -> Mapping[str, Any]:
        value = self._frame.get(name)
        if not isinstance(value, dict):
            raise bad_field(name, f"'{name}' must be an object")
        return value


@dataclass(frozen=True, slots=True)
class Join:
    token: str
    protocol: int
    # video codecs the client decodes (``RTCRtpReceiver.getCapabilities("video")``'s
    # mime types); None: not said (the SFU then goes by the client's publish offers)
    codecs: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Publish:
    sdp: str
    sources: dict[str, str]


@dataclass(frozen=True, slots=True)
class Unpublish:
    source: str


@dataclass(frozen=True, slots=True)
class Answer:
    sdp: str
    offer_id: int | None = None  # the offer answered (its ``offer_id``), when named


@dataclass(frozen=True, slots=True)
class Candidate:
    pc: PeerConnectionName
    candidate: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class LobbyDecision:
    participant_id: str


@dataclass(frozen=True, slots=True)
class Chat:
    text: str


@dataclass(frozen=True, slots=True)
class FileOffer:
    url: str
    name: str
    size: int
    mime: str


@dataclass(frozen=True, slots=True)
class SetVideoCap:
    mode: VideoCapMode
    max_layer: int | None
    # set: ``max_layer`` is the layer this client's tile of that participant needs
    # (its size on the page), and ``mode`` is left as it was
    participant_id: str | None = None


@dataclass(frozen=True, slots=True)
class RestartIce:
    pc: PeerConnectionName


@dataclass(frozen=True, slots=True)
class NoFields:
    """``leave``, ``end``, ``ping``: the type says everything."""


def parse_join(r: FieldReader) -> Join:
    token = r.string("token", max_chars=4096)
    protocol = PROTOCOL_VERSION
    if r.present("protocol"):
        protocol = r.integer("protocol", minimum=0, maximum=1_000)
        if protocol != PROTOCOL_VERSION:
            raise bad_field("protocol", f"this server speaks protocol {PROTOCOL_VERSION} only")
    codecs = None
    if r.present("codecs"):
        codecs = r.strings("codecs", max_items=32, max_chars=64)
        if not any(c.lower() in ("video/vp8", "vp8") for c in codecs):
            raise bad_field("codecs", "'codecs' must include video/VP8, the codec of every room")
    return Join(token, protocol, codecs)


def parse_publish(r: FieldReader) -> Publish:
    sdp = r.string("sdp", max_chars=MAX_SDP_CHARS)
    raw = r.mapping("sources")
    if not 1 <= len(raw) <= 8:
        raise bad_field("sources", "'sources' must name 1–8 m-sections")
    sources: dict[str, str] = {}
    for mid, source in raw.items():
        if not isinstance(mid, str) or not _MID_RE.match(mid):
            raise bad_field("sources", f"mid {str(mid)[:20]!r} is not a valid mid")
        if source not in SOURCES:
            raise bad_field(f"sources.{mid}", "source must be one of camera, mic, screen")
        sources[mid] = source
    if len(set(sources.values())) != len(sources):
        raise bad_field("sources", "each source may be published on one mid only")
    return Publish(sdp, sources)


@dataclass(frozen=True, slots=True)
class Probe:
    """Pre-call media test: a join token and a publish offer for a room of its own."""

    token: str
    sdp: str
    sources: dict[str, str]


def parse_probe(r: FieldReader) -> Probe:
    token = r.string("token", max_chars=4096)
    offer = parse_publish(r)
    return Probe(token, offer.sdp, offer.sources)


def parse_unpublish(r: FieldReader) -> Unpublish:
    return Unpublish(r.choice("source", SOURCES))


def parse_answer(r: FieldReader) -> Answer:
    if r.choice("pc", PEER_CONNECTIONS) != "subscribe":
        raise bad_field("pc", "only the subscribe peer connection takes an answer")
    sdp = r.string("sdp", max_chars=MAX_SDP_CHARS)
    offer_id = r.integer("offer_id", minimum=0, maximum=2**53) if r.present("offer_id") else None
    return Answer(sdp, offer_id)


def parse_candidate(r: FieldReader) -> Candidate:
    pc = r.choice("pc", PEER_CONNECTIONS)
    if not r.present("candidate"):
        return Candidate(pc, None)
    raw = r.mapping("candidate")
    text = raw.get("candidate")
    if not isinstance(text, str) or len(text) > 512:
        raise bad_field("candidate.candidate", "'candidate' must be a string ≤ 512 chars")
    mid = raw.get("sdpMid")
    if mid is not None and (not isinstance(mid, str) or not _MID_RE.match(mid)):
        raise bad_field("candidate.sdpMid", "'sdpMid' must be a mid")
    index = raw.get("sdpMLineIndex")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int)):
        raise bad_field("candidate.sdpMLineIndex", "'sdpMLineIndex' must be an integer")
    clean = {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index}
    return Candidate(pc, clean)


def parse_lobby_decision(r: FieldReader) -> LobbyDecision:
    return LobbyDecision(r.string("participant_id", max_chars=MAX_PARTICIPANT_ID_CHARS))


def chat_parser(max_chars: int) -> Callable[[FieldReader], Chat]:
    def parse_chat(r: FieldReader) -> Chat:
        text = r.string("text", max_chars=max_chars)
        if not text.strip():
            raise bad_field("text", "'text' must not be blank")
        return Chat(text)

    return parse_chat


def parse_file(r: FieldReader) -> FileOffer:
    url = r.string("url", max_chars=512)
    if not _URL_PATH_RE.match(url) or "/../" in url or url.endswith("/..") or "//" in url:
        raise bad_field("url", "'url' must be a same-origin path under /api/")
    name = r.string("name", max_chars=255)
    if any(ch in name for ch in "/\\\x00") or not name.strip():
        raise bad_field("name", "'name' must be a plain file name")
    size = r.integer("size", minimum=0, maximum=MAX_FILE_BYTES)
    mime = r.string("mime", max_chars=127)
    if not _MIME_RE.match(mime):
        raise bad_field("mime", "'mime' must be a media type such as application/pdf")
    return FileOffer(url, name, size, mime)


def parse_set_video_cap(r: FieldReader) -> SetVideoCap:
    max_layer = r.integer("max_layer", minimum=0, maximum=2) if r.present("max_layer") else None
    if r.present("participant_id"):
        publisher = r.string("participant_id", max_chars=MAX_PARTICIPANT_ID_CHARS)
        return SetVideoCap("auto", max_layer, publisher)
    mode = r.choice("mode", VIDEO_CAP_MODES)
    return SetVideoCap(mode, max_layer)


def parse_restart_ice(r: FieldReader) -> RestartIce:
    return RestartIce(r.choice("pc", PEER_CONNECTIONS))


def parse_nothing(_r: FieldReader) -> NoFields:
    return NoFields()


def frame_ref(frame: Mapping[str, Any]) -> str | None:
    """The client's ``id``, echoed as ``ref``; a bad one is refused, never echoed."""
    ref = frame.get("id")
    if ref is None:
        return None
    if isinstance(ref, str) and 1 <= len(ref) <= MAX_ID_CHARS:
        return ref
    raise FrameRefused("bad-field", f"'id' must be a string of 1–{MAX_ID_CHARS} chars", field="id")
