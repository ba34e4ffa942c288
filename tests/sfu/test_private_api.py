"""The private names the SFU takes from aiortc, aioice and pylibsrtp exist in the
installed releases, those releases are the pinned ones, a different one stops the SFU
at start-up with a message saying which, importing the SFU changes nothing in aiortc
until an ``Sfu`` is made, and only ``sfu.aiortc`` touches the three packages."""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pylibsrtp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bench.ice_pinning import restrict_host_addresses
from sfu import Sfu, SfuConfig
from sfu.aiortc import private_api
from sfu.aiortc.private_api import PRIVATE_NAMES, IncompatibleDependency
from tests.support.waiting import until

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))


def test_the_checked_versions_are_the_pinned_and_installed_ones() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = {
        name.strip(): version.strip()
        for name, _, version in (d.partition("==") for d in project["dependencies"])
        if version
    }
    for package, expected in private_api.EXPECTED_VERSIONS.items():
        assert pins.get(package) == expected, f"pyproject.toml pins {package}=={expected}"
        assert importlib.metadata.version(package) == expected
    private_api.check()


@pytest.mark.parametrize("package", ["aiortc", "aioice", "pylibsrtp"])
def test_another_release_stops_the_sfu_with_a_message_naming_it(
    monkeypatch: pytest.MonkeyPatch, package: str
) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        return "9.9.9" if name == package else real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(IncompatibleDependency) as refused:
        Sfu(LOOPBACK)
    expected = private_api.EXPECTED_VERSIONS[package]
    message = str(refused.value)
    assert f"{package} 9.9.9 is installed" in message
    assert f"{package}=={expected}" in message
    assert (refused.value.package, refused.value.found) == (package, "9.9.9")


def test_a_missing_package_is_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "pylibsrtp":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    with pytest.raises(IncompatibleDependency, match=r"pylibsrtp not installed.*pylibsrtp==1"):
        Sfu(LOOPBACK)


def test_importing_the_sfu_leaves_aiortc_alone_until_an_sfu_is_made() -> None:
    script = (
        "import aiortc.rtcdtlstransport as dtls, aiortc.rtcpeerconnection as pc\n"
        "import sfu, sfu.aiortc as adapter\n"
        "assert pc.RTCCertificate is dtls.RTCCertificate, 'changed by import'\n"
        "assert not adapter.installed()\n"
        "sfu.Sfu()\n"
        "assert adapter.installed() and pc.RTCCertificate is not dtls.RTCCertificate\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


SFU = ROOT / "sfu"
BOUNDARY = SFU / "aiortc"  # the one package allowed to touch the pinned packages


def test_every_private_name_the_sfu_reads_is_listed() -> None:
    """A private attribute read off another object than ``self`` (or named in a
    ``getattr``/``setattr``/``hasattr``), or a name-mangled method overridden, in any
    module of the ``sfu.aiortc`` package is in ``PRIVATE_NAMES``; no other SFU module
    uses any of them (their objects' insides are that package's alone)."""
    listed = {p.name for p in PRIVATE_NAMES}
    unlisted = set()
    for path in sorted(SFU.rglob("*.py")):
        inside = path.is_relative_to(BOUNDARY)
        for name in _private_names_used(ast.parse(path.read_text())):
            if (name not in listed) if inside else (name in listed):
                unlisted.add(f"{path.relative_to(ROOT)}: {name}")
    assert unlisted == set()


def _private_names_used(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
        elif isinstance(node, ast.FunctionDef) and "__" in node.name.strip("_"):
            name = node.name  # an override of a name-mangled method
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr")
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
        ):
            name = node.args[1].value
        else:
            continue
        if name.startswith("_") and not name.endswith("__"):
            names.add(name)
    return names


def test_the_scan_finds_a_private_name_read_from_a_string() -> None:
    found = _private_names_used(ast.parse("getattr(sender, '_rtx_ssrc', None)\nx._queue\n"))
    assert found == {"_rtx_ssrc", "_queue"}


def test_only_the_boundary_package_imports_aiortc_aioice_or_pylibsrtp() -> None:
    """The rest of the SFU uses ``sfu.aiortc``'s public names: an upgrade of the three
    packages is read again in one place."""
    outside = set()
    for path in sorted(SFU.rglob("*.py")):
        if path.is_relative_to(BOUNDARY):
            continue
        for module in _imported_modules(ast.parse(path.read_text())):
            if module.split(".")[0] in private_api.EXPECTED_VERSIONS:
                outside.add(f"{path.relative_to(ROOT)}: {module}")
    assert outside == set()


def _imported_modules(tree: ast.Module) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            modules.append(node.module or "")
    return modules


def test_names_on_modules_and_classes_exist() -> None:
    assert private_api.missing_static_names() == []
    assert {p.package for p in PRIVATE_NAMES} == set(private_api.EXPECTED_VERSIONS)


async def test_names_set_on_instances_exist_on_a_connected_sfu_connection() -> None:
    """Every instance-only name, looked up on the real objects of a connected call."""
    sfu = Sfu(LOOPBACK)
    participant = sfu.room("private-names").add_participant("alice")
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTransceiver("audio", direction="sendonly")
    client.addTransceiver("video", direction="sendonly")
    restrict_host_addresses(client, ("127.0.0.1",))
    try:
        await client.setLocalDescription(await client.createOffer())
        assert client.localDescription is not None
        answer = await participant.publish(client.localDescription.sdp)
        await client.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        pc = participant._publish_pc
        assert pc is not None and pc.fast_path is not None
        assert await until(lambda: pc.connectionState == "connected", 10)

        dtls = pc.fast_path.dtls
        transceiver = pc.getTransceivers()[0]
        connection: Any = dtls.transport._connection
        instances: dict[str, Any] = {
            "aiortc.rtcpeerconnection.RTCPeerConnection": pc,
            "aiortc.rtcdtlstransport.RTCDtlsTransport": dtls,
            "aiortc.rtcdtlstransport.RtpRouter": dtls._rtp_router,
            "aiortc.rtcrtpsender.RTCRtpSender": transceiver.sender,
            "aiortc.rtcrtptransceiver.RTCRtpTransceiver": transceiver,
            "aiortc.rtcicetransport.RTCIceGatherer": dtls.transport.iceGatherer,
            "aiortc.rtcicetransport.RTCIceTransport": dtls.transport,
            "aioice.ice.Connection": connection,
            "aioice.candidate.Candidate": connection._remote_candidates[0],
            "pylibsrtp.Session": dtls._rx_srtp,
        }
        assert isinstance(dtls._rx_srtp, pylibsrtp.Session)
        missing = []
        for private in PRIVATE_NAMES:
            if not private.instance:
                continue
            instance = instances[private.owner]
            assert isinstance(instance, private_api.resolve(private.owner))  # type: ignore[arg-type]
            if not hasattr(instance, private.name):
                missing.append(f"{private.owner}.{private.name}")
        assert missing == []
    finally:
        await client.close()
        await sfu.close()
