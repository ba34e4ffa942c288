"""The lean RTP view and header writer agree with aiortc's full parser on real packets."""

from __future__ import annotations

from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, wrap_rtx

from sfu._datapath import Counters, Egress, Track
from sfu.aiortc import ABS_SEND_TIME_URI, AUDIO_LEVEL_URI, MID_URI
from sfu.rtp_view import RtpView

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"


def extensions_map(ids: dict[str, int]) -> HeaderExtensionsMap:
    extensions = HeaderExtensionsMap()
    extensions.configure(
        RTCRtpParameters(
            headerExtensions=[RTCRtpHeaderExtensionParameters(id=i, uri=u) for u, i in ids.items()]
        )
    )
    return extensions


def sample_packet(**extensions: object) -> RtpPacket:
    packet = RtpPacket(payload_type=96, marker=1, sequence_number=65535, timestamp=0xFFFFFFF0)
    packet.ssrc = 0x11223344
    packet.payload = bytes(range(200))
    for name, value in extensions.items():
        setattr(packet.extensions, name, value)
    return packet


def test_fixed_header_and_extensions_match_aiortc() -> None:
    ids = {MID_URI: 1, AUDIO_LEVEL_URI: 2, RID_URI: 10}
    data = sample_packet(mid="3", audio_level=(True, 42), rtp_stream_id="h").serialize(
        extensions_map(ids)
    )
    view = RtpView.parse(data)
    assert view is not None
    assert (view.ssrc, view.sequence_number, view.timestamp) == (0x11223344, 65535, 0xFFFFFFF0)
    assert (view.payload_type, view.marker) == (96, 1)
    assert view.payload == bytes(range(200))
    assert view.extension(1) == b"3"
    assert view.extension(2) == bytes([0x80 | 42])
    assert view.extension(10) == b"h"
    assert view.extension(5) is None


def test_malformed_packets_are_refused() -> None:
    good = sample_packet().serialize(extensions_map({}))
    assert RtpView.parse(good[:11]) is None  # shorter than the fixed header
    assert RtpView.parse(bytes([0x40]) + good[1:]) is None  # version 1
    truncated_extension = bytes([0x90]) + good[1:12] + b"\xbe\xde\x00\x09"
    assert RtpView.parse(truncated_extension) is None  # extension runs past the end
    assert RtpView.parse(bytes([0xA0]) + good[1:-1] + b"\xff") is None  # padding > packet


def test_padding_is_not_payload() -> None:
    packet = sample_packet()
    packet.padding_size = 7
    view = RtpView.parse(packet.serialize(extensions_map({})))
    assert view is not None
    assert view.padding == 7
    assert view.payload == bytes(range(200))


def test_rtx_unwrap_restores_the_original_packet() -> None:
    original = sample_packet()
    rtx = wrap_rtx(original, payload_type=97, sequence_number=7, ssrc=0x55667788)
    view = RtpView.parse(rtx.serialize(extensions_map({})))
    assert view is not None
    unwrapped = view.unwrap_rtx(96, 0x11223344)
    assert unwrapped is not None
    assert unwrapped.sequence_number == 65535
    assert unwrapped.ssrc == 0x11223344
    assert unwrapped.payload_type == 96
    assert unwrapped.payload == original.payload


def test_written_header_carries_the_subscribers_extension_ids() -> None:
    publisher_ids = {MID_URI: 4, AUDIO_LEVEL_URI: 9}
    view = RtpView.parse(
        sample_packet(mid="0", audio_level=(False, 30)).serialize(extensions_map(publisher_ids))
    )
    assert view is not None
    track = Track(Egress(), Counters(), 0xCAFE, 64)
    track.configure(111, b"12", 1, 3, 2)
    track.seq_offset = (42 - view.sequence_number) & 0xFFFF
    track.ts_offset = (1234 - view.timestamp) & 0xFFFFFFFF
    assert track.emit(view.data, view.extension(9), 1.5) is False  # no connection to send on
    data = track.history(42)
    assert data is not None
    subscriber_ids = {MID_URI: 1, ABS_SEND_TIME_URI: 3, AUDIO_LEVEL_URI: 2}
    parsed = RtpPacket.parse(data, extensions_map(subscriber_ids))
    assert (parsed.payload_type, parsed.sequence_number, parsed.timestamp) == (111, 42, 1234)
    assert parsed.ssrc == 0xCAFE
    assert parsed.marker == 1
    assert parsed.payload == bytes(range(200))
    assert parsed.extensions.mid == "12"
    assert parsed.extensions.audio_level == (False, 30)
    assert parsed.extensions.abs_send_time == int(1.5 * 262144)


def test_written_header_without_extensions() -> None:
    view = RtpView.parse(sample_packet().serialize(extensions_map({})))
    assert view is not None
    track = Track(Egress(), Counters(), 3, 64)
    track.configure(96, b"", 0, 0, 0)
    track.seq_offset = (1 - view.sequence_number) & 0xFFFF
    track.emit(view.data, None, 0.0)
    data = track.history(1)
    assert data is not None
    assert len(data) == 12 + 200
    assert RtpPacket.parse(data).payload == bytes(range(200))
