"""The private names of aiortc, aioice and pylibsrtp the SFU relies on, and their versions.

None of the three offers a forwarding hook, so the modules of ``sfu.aiortc``
override, read and replace names that are no part of any of their APIs. A release may
rename one without notice; the SFU would then fail inside the media path, silently or
with a traceback per packet. So the versions they were read from are pinned exactly in
``pyproject.toml`` and checked when an ``Sfu`` is made (``check``): any other version
stops start-up with a message naming the package, the version found and the one
expected. ``PRIVATE_NAMES`` lists every such name, so a test can look each one up on
the installed packages and an upgrade knows what to read again.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib import metadata

# the releases whose source the private names below were read from (pyproject.toml pins)
EXPECTED_VERSIONS: dict[str, str] = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}


class IncompatibleDependency(RuntimeError):
    """An installed package is not the release the SFU's private-API use was written for."""

    def __init__(self, package: str, found: str | None, expected: str, detail: str = "") -> None:
        shown = found if found is not None else "not installed"
        message = (
            f"{package} {shown} is installed, the SFU needs {package}=={expected}: it uses "
            f"private names of {package} (sfu/aiortc/private_api.py) that other releases may lack"
        )
        if detail:
            message += f"; {detail}"
        super().__init__(message)
        self.package = package
        self.found = found
        self.expected = expected


@dataclass(frozen=True, slots=True)
class PrivateName:
    """One private name: on a module or class (``instance=False``), or set by a
    class's ``__init__`` and so only on its instances (``instance=True``)."""

    package: str
    owner: str  # dotted path of the module, or of the class
    name: str
    instance: bool = False


def _names(package: str, owner: str, names: str, *, instance: bool = False) -> list[PrivateName]:
    return [PrivateName(package, owner, name, instance) for name in names.split()]


_PC = "aiortc.rtcpeerconnection.RTCPeerConnection"
_DTLS = "aiortc.rtcdtlstransport.RTCDtlsTransport"
_CONNECTION = "aioice.ice.Connection"

PRIVATE_NAMES: tuple[PrivateName, ...] = (
    # our transceivers, DTLS transport and the process certificate (ForwardingPeerConnection)
    *_names(
        "aiortc",
        _PC,
        "_RTCPeerConnection__createTransceiver _RTCPeerConnection__createDtlsTransport",
    ),
    *_names(
        "aiortc",
        _PC,
        "_RTCPeerConnection__transceivers _RTCPeerConnection__stream_id",
        instance=True,
    ),
    PrivateName("aiortc", "aiortc.rtcpeerconnection", "RTCCertificate"),
    PrivateName("aiortc", "aiortc.rtcdtlstransport.RTCCertificate", "_create_ssl_context"),
    # RTP and RTCP in and out of the DTLS transport (FastPath, the forwarding sender/receiver)
    *_names(
        "aiortc",
        _DTLS,
        "_send_rtp _handle_rtcp_data _register_rtp_receiver _unregister_rtp_receiver "
        "_register_rtp_sender _unregister_rtp_sender",
    ),
    *_names(
        "aiortc",
        _DTLS,
        "_ssl _srtp_profiles _rx_srtp _tx_srtp _role _state _rtp_router _rtp_header_extensions_map",
        instance=True,
    ),
    # aiortc's bundle router: no underscore, but no documented API either
    PrivateName("aiortc", "aiortc.rtcdtlstransport.RtpRouter", "route_rtp"),
    *_names(
        "aiortc",
        "aiortc.rtcdtlstransport.RtpRouter",
        "senders ssrc_table mid_table",
        instance=True,
    ),
    *_names(
        "aiortc",
        "aiortc.rtcrtpreceiver.RTCRtpReceiver",
        "_handle_rtp_packet _handle_disconnect _set_rtcp_ssrc",
    ),
    *_names(
        "aiortc", "aiortc.rtcrtpsender.RTCRtpSender", "_ssrc _stream_id _rtx_ssrc", instance=True
    ),
    *_names(
        "aiortc",
        "aiortc.rtcrtptransceiver.RTCRtpTransceiver",
        "_codecs _headerExtensions _offerDirection _bundled",
        instance=True,
    ),
    PrivateName("aiortc", "aiortc.rtcicetransport.RTCIceGatherer", "_connection", instance=True),
    *_names("aiortc", "aiortc.rtcicetransport.RTCIceTransport", "_connection _send", instance=True),
    # gathering on our addresses, the native socket reader, consent freshness
    *_names(
        "aioice",
        _CONNECTION,
        "_components _local_candidates _local_candidates_start _local_candidates_end "
        "_protocols _transport_policy _use_ipv4 _use_ipv6 _nominated _queue _check_list "
        "_check_list_done _closing _early_checks_done _query_consent_task "
        "_remote_candidates _tie_breaker",
        instance=True,
    ),
    PrivateName("aioice", "aioice.candidate.Candidate", "_network_host", instance=True),
    # libsrtp called from C on pylibsrtp's own sessions (native_srtp)
    PrivateName("pylibsrtp", "pylibsrtp", "_binding"),
    PrivateName("pylibsrtp", "pylibsrtp.Session", "_srtp", instance=True),
)


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def check_versions() -> None:
    """Raise ``IncompatibleDependency`` unless each package is the expected release."""
    for package, expected in EXPECTED_VERSIONS.items():
        found = installed_version(package)
        if found != expected:
            raise IncompatibleDependency(package, found, expected)


def resolve(owner: str) -> object:
    """The module or class a dotted path names (``ImportError``/``AttributeError`` if none)."""
    module_path, _, attribute = owner.rpartition(".")
    try:
        return importlib.import_module(owner)
    except ImportError:
        if not module_path:
            raise
    return getattr(importlib.import_module(module_path), attribute)


def missing_static_names() -> list[PrivateName]:
    """Names on modules and classes (not only on instances) that the installed packages lack."""
    missing = []
    for private in PRIVATE_NAMES:
        if private.instance:
            continue
        try:
            found = hasattr(resolve(private.owner), private.name)
        except (ImportError, AttributeError):
            found = False
        if not found:
            missing.append(private)
    return missing


def check() -> None:
    """At start-up: the pinned versions, then every name reachable without an instance."""
    check_versions()
    missing = missing_static_names()
    if missing:
        first = missing[0]
        raise IncompatibleDependency(
            first.package,
            installed_version(first.package),
            EXPECTED_VERSIONS[first.package],
            detail="missing: " + ", ".join(f"{m.owner}.{m.name}" for m in missing),
        )
