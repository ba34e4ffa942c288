"""SRTP of a connected DTLS transport, run from C on the forwarder's packet path.

aiortc protects and unprotects through pylibsrtp's ``Session`` in Python for every
packet; the native ``Ingress`` and ``Egress`` call libsrtp (or, for AES-GCM, the SFU's
own ``srtp_aead``) directly. This module reads what they need from aiortc's DTLS
transport and pylibsrtp's session, both private (``private_api`` lists them).
"""

from __future__ import annotations

import pylibsrtp
from aiortc.rtcdtlstransport import RTCDtlsTransport
from pylibsrtp._binding import ffi as srtp_ffi  # type: ignore[import-not-found]
from pylibsrtp._binding import lib as srtp_lib

from sfu._datapath import Srtp, aead_srtp

_SRTP_FUNCTIONS = tuple(
    int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, name)))
    for name in ("srtp_protect", "srtp_unprotect", "srtp_protect_rtcp", "srtp_unprotect_rtcp")
)


def native_srtp(session: pylibsrtp.Session) -> Srtp:
    """The RTP calls of one pylibsrtp ``Session``, made from C on the same libsrtp context.

    ``Session.protect`` type-checks, allocates and dispatches in Python on every packet;
    the forwarder's C path calls the same libsrtp functions on the same session.
    """
    context = int(srtp_ffi.cast("uintptr_t", session._srtp[0]))
    return Srtp(session, context, *_SRTP_FUNCTIONS)


def srtp_sessions(dtls: RTCDtlsTransport) -> tuple[Srtp, Srtp]:
    """(receive, send) SRTP for a connected DTLS transport.

    AES-GCM (RFC 7714) runs on ``aead_srtp``, keyed here from the same exported material
    aiortc's ``_setup_srtp`` reads (libsrtp re-initialised OpenSSL's cipher for every
    packet); any other profile on the libsrtp sessions aiortc made. Whichever is chosen
    protects everything the connection sends from then on, so SRTCP indices never repeat.
    """
    ssl = dtls._ssl
    assert ssl is not None  # called once DTLS is connected
    selected = ssl.get_selected_srtp_profile()
    profile = next((p for p in dtls._srtp_profiles if p.openssl_profile == selected), None)
    if profile is None or profile.salt_length != AEAD_SALT_LENGTH:
        return native_srtp(dtls._rx_srtp), native_srtp(dtls._tx_srtp)
    material = ssl.export_keying_material(
        b"EXTRACTOR-dtls_srtp", 2 * (profile.key_length + profile.salt_length)
    )
    ours = 1 if dtls._role == "server" else 0  # RFC 5764 4.2: client's key first
    return (
        aead_srtp(profile.get_key_and_salt(material, 1 - ours)),
        aead_srtp(profile.get_key_and_salt(material, ours)),
    )


AEAD_SALT_LENGTH = 12  # the AES-GCM profiles' (RFC 7714 12); AES-CM's is 14
