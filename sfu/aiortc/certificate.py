"""One DTLS certificate for every SFU connection of the process, and ``install()``.

Every ``ForwardingPeerConnection`` presents one certificate (as browsers and
mediasoup's workers do), with its fingerprints and OpenSSL context made once, where
aiortc generates a key, a certificate and a context per peer connection. aiortc takes
no certificate as a parameter, so ``install()`` points its module's factory here, once
the versions are checked (``private_api``); importing the SFU changes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import aiortc.rtcpeerconnection
from aiortc.rtcdtlstransport import RTCCertificate, RTCDtlsFingerprint, SRTPProtectionProfile
from OpenSSL import SSL

from sfu.aiortc.private_api import check as check_private_names

CERTIFICATE_MAX_AGE_S = 86_400.0  # aiortc's certificates are valid for 30 days

# DTLS 1.2 suites we offer (as DTLS client, publish) and accept (as server, subscribe).
# aiortc offers ECDHE-ECDSA only: a peer with an RSA certificate acting as DTLS server
# (GStreamer webrtcbin's default, many SIP gateways) then finds "no shared cipher".
# Our own certificate is ECDSA P-256, so as DTLS server we always pick an ECDSA suite;
# the RSA suites are there for RSA servers. AEAD first, CBC-SHA for older stacks.
DTLS_CIPHER_SUITES = (
    b"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    b"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    b"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    b"ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA"
)


class SharedCertificate(RTCCertificate):
    """A DTLS identity used by many peer connections: fingerprints and context made once.

    aiortc recomputes three fingerprints each time it describes the transport and builds
    an OpenSSL context (certificate and key converted again) for each handshake. The
    context is shared with its session cache off, so every handshake stays a full one,
    with the peer's certificate checked against its own SDP fingerprint as before. Its
    suites add ECDHE-RSA to aiortc's ECDHE-ECDSA (``DTLS_CIPHER_SUITES``).
    """

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key, cert)
        self.pid = os.getpid()
        self.created = time.monotonic()
        self._fingerprints = super().getFingerprints()
        self._contexts: dict[tuple[bytes, ...], SSL.Context] = {}

    def getFingerprints(self) -> list[RTCDtlsFingerprint]:
        return [RTCDtlsFingerprint(f.algorithm, f.value) for f in self._fingerprints]

    def _create_ssl_context(self, srtp_profiles: list[SRTPProtectionProfile]) -> SSL.Context:
        key = tuple(profile.openssl_profile for profile in srtp_profiles)
        context = self._contexts.get(key)
        if context is None:
            context = super()._create_ssl_context(srtp_profiles)
            context.set_session_cache_mode(SSL.SESS_CACHE_OFF)
            context.set_cipher_list(DTLS_CIPHER_SUITES)  # RSA peers too (see above)
            self._contexts[key] = context
        return context


_process_certificate: SharedCertificate | None = None


def process_certificate() -> SharedCertificate:
    """This process's DTLS certificate for the SFU side, renewed daily and after a fork."""
    global _process_certificate
    certificate = _process_certificate
    if (
        certificate is None
        or certificate.pid != os.getpid()
        or time.monotonic() - certificate.created > CERTIFICATE_MAX_AGE_S
    ):
        certificate = SharedCertificate.generateCertificate()
        _process_certificate = certificate
    return certificate


_sfu_side: ContextVar[bool] = ContextVar("sfu_side", default=False)


@contextmanager
def sfu_side() -> Iterator[None]:
    """Peer connections made inside get the process certificate (once installed)."""
    token = _sfu_side.set(True)
    try:
        yield
    finally:
        _sfu_side.reset(token)


class _PeerConnectionCertificate(RTCCertificate):
    """What ``RTCPeerConnection.__init__`` calls: the process certificate for ours only.

    aiortc takes no certificate as a parameter, so its module's name is pointed here;
    any other peer connection of the process (a client in a test or a bench) still gets
    a fresh certificate of its own, exactly as from aiortc.
    """

    @classmethod
    def generateCertificate(cls) -> Any:
        if _sfu_side.get():
            return process_certificate()
        return RTCCertificate.generateCertificate()


def install() -> None:
    """Make aiortc fit for the SFU in this process; called when an ``Sfu`` is made.

    Checks that aiortc, aioice and pylibsrtp are the releases whose private names this
    package uses (``private_api``; a clear ``IncompatibleDependency`` otherwise), then
    points ``aiortc.rtcpeerconnection``'s certificate factory at
    ``_PeerConnectionCertificate``: a process-wide change, made here on purpose rather
    than as a side effect of importing the SFU. Idempotent.
    """
    check_private_names()
    aiortc.rtcpeerconnection.RTCCertificate = _PeerConnectionCertificate  # type: ignore[misc]


def installed() -> bool:
    """Whether ``install`` has run: the SFU's connections then share the process certificate."""
    return aiortc.rtcpeerconnection.RTCCertificate is _PeerConnectionCertificate
