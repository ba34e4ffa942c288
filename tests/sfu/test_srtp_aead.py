"""The SFU's own AES-GCM SRTP (``sfu/srtp_aead.c``) writes libsrtp's bytes and keeps its rules.

libsrtp (pylibsrtp's build, configured as aiortc configures it) is the reference: the
same master key gives byte-identical packets both ways, across a rollover of the
sequence number, and each side unprotects the other's. Replays, packets too old to
tell, forgeries and malformed packets are dropped (``None``), never a crash.
"""

from __future__ import annotations

import os
import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pylibsrtp import Policy, Session

from sfu._datapath import Srtp, aead_srtp

PROFILES = {
    "AEAD_AES_128_GCM": (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 16),
    "AEAD_AES_256_GCM": (Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 32),
}
SSRC = 0x12345678


@pytest.fixture(params=sorted(PROFILES))
def profile(request: pytest.FixtureRequest) -> tuple[int, bytes]:
    libsrtp_profile, key_length = PROFILES[request.param]
    return libsrtp_profile, os.urandom(key_length + 12)


def libsrtp(profile: tuple[int, bytes], direction: int) -> Session:
    libsrtp_profile, master = profile
    policy = Policy(key=master, ssrc_type=direction, srtp_profile=libsrtp_profile)
    policy.allow_repeat_tx = True  # as aiortc's RTCDtlsTransport sets both
    policy.window_size = 1024
    return Session(policy)


def rtp(seq: int, ssrc: int = SSRC, payload: int = 160, csrcs: int = 0, ext: bool = True) -> bytes:
    first = 0x80 | (0x10 if ext else 0) | csrcs
    header = struct.pack("!BBHII", first, 111, seq & 0xFFFF, seq * 960 & 0xFFFFFFFF, ssrc)
    header += b"".join(struct.pack("!I", 1000 + i) for i in range(csrcs))
    if ext:  # one-byte extensions: audio level, mid
        header += b"\xbe\xde\x00\x02" + b"\x10\x85" + b"\x21ab" + bytes(3)  # 2 words
    return header + os.urandom(payload)


def sealed(protected: bytes | None) -> bytes:
    """What protect gave for a packet it must accept (None would be a drop)."""
    assert protected is not None
    return protected


def sender_report(ssrc: int = SSRC) -> bytes:
    return struct.pack("!BBHIIIIII", 0x80, 200, 6, ssrc, 1, 2, 3, 4, 5) + (
        b"\x81\xca\x00\x02" + struct.pack("!I", ssrc) + b"\x01\x02ab"
    )


def test_rtp_bytes_match_libsrtp_across_a_rollover(profile: tuple[int, bytes]) -> None:
    theirs_out, theirs_in = (
        libsrtp(profile, Policy.SSRC_ANY_OUTBOUND),
        libsrtp(profile, Policy.SSRC_ANY_INBOUND),
    )
    ours_out, ours_in = aead_srtp(profile[1]), aead_srtp(profile[1])
    assert ours_out.aead and ours_in.aead
    shapes = [(0, True), (2, True), (0, False)]  # (CSRCs, header extension)
    for seq in range(65_400, 65_536 + 200):  # the rollover counter becomes 1
        csrcs, ext = random.choice(shapes)
        packet = rtp(seq, payload=random.randint(0, 1200), csrcs=csrcs, ext=ext)
        protected = ours_out.protect(packet)
        assert protected == theirs_out.protect(packet)
        assert theirs_in.unprotect(protected) == packet
        assert ours_in.unprotect(protected) == packet


def test_rtcp_bytes_match_libsrtp(profile: tuple[int, bytes]) -> None:
    theirs_out, theirs_in = (
        libsrtp(profile, Policy.SSRC_ANY_OUTBOUND),
        libsrtp(profile, Policy.SSRC_ANY_INBOUND),
    )
    ours_out, ours_in = aead_srtp(profile[1]), aead_srtp(profile[1])
    for ssrc in (SSRC, SSRC + 1, SSRC):  # an index per sender, from 1
        for _ in range(30):
            report = sender_report(ssrc)
            protected = ours_out.protect_rtcp(report)
            assert protected == theirs_out.protect_rtcp(report)
            assert theirs_in.unprotect_rtcp(protected) == report
            assert ours_in.unprotect_rtcp(protected) == report


def test_libsrtp_packets_unprotected_out_of_order_and_each_once(
    profile: tuple[int, bytes],
) -> None:
    sender = libsrtp(profile, Policy.SSRC_ANY_OUTBOUND)
    receiver = aead_srtp(profile[1])
    sent = {seq: rtp(seq) for seq in range(100, 400)}
    protected = {seq: sender.protect(packet) for seq, packet in sent.items()}
    order = list(protected)
    random.Random(7).shuffle(order)  # reordered within the window
    for seq in order:
        assert receiver.unprotect(protected[seq]) == sent[seq]
    for seq in order[:50]:
        assert receiver.unprotect(protected[seq]) is None  # replayed


def test_a_packet_older_than_the_window_is_refused(profile: tuple[int, bytes]) -> None:
    sender, receiver = aead_srtp(profile[1]), aead_srtp(profile[1])
    old = sealed(sender.protect(rtp(10)))
    newest = sealed(sender.protect(rtp(10 + 1024)))
    assert receiver.unprotect(newest) is not None
    assert receiver.unprotect(old) is None  # 1024 behind: cannot tell it was not seen
    assert receiver.unprotect(sealed(sender.protect(rtp(11)))) is not None  # 1023 behind: fine


def test_a_sender_may_repeat_a_sequence_number_but_not_send_one_too_old(
    profile: tuple[int, bytes],
) -> None:
    theirs = libsrtp(profile, Policy.SSRC_ANY_OUTBOUND)
    sender, receiver = aead_srtp(profile[1]), aead_srtp(profile[1])
    first, newest, too_old = rtp(500), rtp(1400), rtp(1400 - 1024)
    assert sender.protect(first) == theirs.protect(first)
    assert sender.protect(newest) == theirs.protect(newest)
    again = sender.protect(first)  # a retransmission without RTX: the same index
    assert again is not None and again == theirs.protect(first)
    assert receiver.unprotect(again) == first
    assert sender.protect(too_old) is None  # 1024 behind the newest
    with pytest.raises(Exception, match="replay"):
        theirs.protect(too_old)


def test_srtcp_replays_and_indices_before_the_window_are_refused(
    profile: tuple[int, bytes],
) -> None:
    sender, receiver = aead_srtp(profile[1]), aead_srtp(profile[1])
    first = sealed(sender.protect_rtcp(sender_report()))
    later = [sealed(sender.protect_rtcp(sender_report())) for _ in range(200)]
    assert receiver.unprotect_rtcp(later[-1]) is not None  # index 201
    assert receiver.unprotect_rtcp(later[-1]) is None  # replayed
    assert receiver.unprotect_rtcp(later[-2]) is not None  # in the 128-index window
    assert receiver.unprotect_rtcp(first) is None  # index 1: before the window


@pytest.mark.parametrize("where", ["header", "payload", "tag"])
def test_a_tampered_packet_is_refused(profile: tuple[int, bytes], where: str) -> None:
    sender, receiver = aead_srtp(profile[1]), aead_srtp(profile[1])
    packet = bytearray(sealed(sender.protect(rtp(42))))
    packet[{"header": 1, "payload": 30, "tag": -1}[where]] ^= 0x01
    assert receiver.unprotect(bytes(packet)) is None
    report = bytearray(sealed(sender.protect_rtcp(sender_report())))
    report[{"header": 5, "payload": 12, "tag": -6}[where]] ^= 0x01
    assert receiver.unprotect_rtcp(bytes(report)) is None
    # an authentic packet still passes after the forgeries: they changed no state
    assert receiver.unprotect(sealed(sender.protect(rtp(43)))) is not None


def test_another_key_is_refused(profile: tuple[int, bytes]) -> None:
    other = bytes(b ^ 0xFF for b in profile[1])
    assert aead_srtp(other).unprotect(sealed(aead_srtp(profile[1]).protect(rtp(1)))) is None


@pytest.mark.parametrize(
    "packet",
    [
        b"",
        b"\x80" * 11,  # shorter than the fixed header
        b"\x8f\x6f" + bytes(10 + 4 * 14),  # 15 CSRCs announced, 14 present
        b"\x90\x6f" + bytes(10) + b"\xbe\xde\x00\x09" + bytes(16),  # extension overruns
        b"\x80\x6f" + bytes(10) + bytes(15),  # a payload shorter than the tag
    ],
)
def test_malformed_rtp_is_refused(profile: tuple[int, bytes], packet: bytes) -> None:
    receiver = aead_srtp(profile[1])
    assert receiver.unprotect(packet) is None
    if len(packet) < 12 or packet[0] & 0x1F:
        assert receiver.protect(packet) is None


@pytest.mark.parametrize("size", [0, 7, 27])  # under header + tag + index
def test_short_rtcp_is_refused(profile: tuple[int, bytes], size: int) -> None:
    assert aead_srtp(profile[1]).unprotect_rtcp(b"\x80\xc8" + bytes(max(size - 2, 0))) is None


def kdf(master_key: bytes, master_salt: bytes, label: int, length: int) -> bytes:
    """RFC 3711 4.3.1 with r = 0, the 12-byte salt padded to 14 (RFC 7714 11)."""
    x = bytearray(master_salt + bytes(4))
    x[7] ^= label
    encryptor = Cipher(algorithms.AES(master_key), modes.CTR(bytes(x))).encryptor()
    return encryptor.update(bytes(length))


def test_unencrypted_srtcp_is_authenticated_whole(profile: tuple[int, bytes]) -> None:
    """RFC 7714 9: with E = 0 the whole packet is AAD; built here from the RFC alone."""
    master = profile[1]
    key, salt = master[:-12], master[-12:]
    session_key = kdf(key, salt, 3, len(key))
    session_salt = kdf(key, salt, 5, 12)
    report, index = sender_report(), 5
    trailer = struct.pack("!I", index)  # E flag clear
    nonce = bytes(a ^ b for a, b in zip(
        b"\0\0" + report[4:8] + b"\0\0" + struct.pack("!I", index), session_salt, strict=True
    ))  # fmt: skip
    tag = AESGCM(session_key).encrypt(nonce, b"", report + trailer)
    receiver = aead_srtp(master)
    assert receiver.unprotect_rtcp(report + tag + trailer) == report
    assert receiver.unprotect_rtcp(report + tag + trailer) is None  # replayed
    forged = bytearray(report + tag + trailer)
    forged[12] ^= 0x40
    assert receiver.unprotect_rtcp(bytes(forged)) is None


def test_a_session_keeps_at_most_64_streams(profile: tuple[int, bytes]) -> None:
    sender = aead_srtp(profile[1])
    assert all(sender.protect(rtp(1, ssrc=ssrc)) is not None for ssrc in range(1, 65))
    assert sender.protect(rtp(1, ssrc=65)) is None
    assert sender.protect(rtp(2, ssrc=64)) is not None  # known streams go on


def test_wrong_master_lengths_are_refused_and_a_closed_session_drops() -> None:
    for length in (0, 16, 30, 32, 46):
        with pytest.raises(ValueError, match="28 or 44 bytes"):
            aead_srtp(os.urandom(length))
    srtp = aead_srtp(os.urandom(28))
    assert isinstance(srtp, Srtp)
    srtp.close()
    assert srtp.protect(rtp(1)) is None and srtp.unprotect_rtcp(sender_report()) is None
