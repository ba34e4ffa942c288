"""The SFU's native libsrtp calls interoperate with pylibsrtp's own sessions."""

from __future__ import annotations

import os

from pylibsrtp import Policy, Session

from sfu.aiortc import native_srtp

KEY = os.urandom(30)


def session(direction: int) -> Session:
    return Session(
        Policy(key=KEY, ssrc_type=direction, srtp_profile=Policy.SRTP_PROFILE_AES128_CM_SHA1_80)
    )


def rtp(sequence_number: int, size: int = 1100) -> bytes:
    return (
        bytes([0x80, 96, sequence_number >> 8, sequence_number & 0xFF])
        + bytes(8)
        + (os.urandom(size))
    )


def test_protected_by_us_unprotected_by_pylibsrtp_and_back() -> None:
    ours_out = native_srtp(session(Policy.SSRC_ANY_OUTBOUND))
    theirs_in = session(Policy.SSRC_ANY_INBOUND)
    theirs_out = session(Policy.SSRC_ANY_OUTBOUND)
    ours_in = native_srtp(session(Policy.SSRC_ANY_INBOUND))
    for seq in range(1, 50):
        packet = rtp(seq)
        protected = ours_out.protect(packet)
        assert protected is not None and protected != packet
        assert theirs_in.unprotect(protected) == packet
        assert ours_in.unprotect(theirs_out.protect(packet)) == packet


def test_forged_replayed_or_oversized_packets_give_none() -> None:
    sender = session(Policy.SSRC_ANY_OUTBOUND)
    receiver = native_srtp(session(Policy.SSRC_ANY_INBOUND))
    protected = sender.protect(rtp(7))
    assert receiver.unprotect(protected) is not None
    assert receiver.unprotect(protected) is None  # replay
    forged = bytearray(sender.protect(rtp(8)))
    forged[20] ^= 0xFF
    assert receiver.unprotect(bytes(forged)) is None  # authentication fails
    assert native_srtp(session(Policy.SSRC_ANY_OUTBOUND)).protect(rtp(9, size=9000)) is None
