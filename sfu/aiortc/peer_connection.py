"""The SFU's peer connection: forwarding transceivers, pinned gathering, network filter.

``ForwardingPeerConnection`` is an ``RTCPeerConnection`` creating a
``ForwardingReceiver`` and ``ForwardingSender`` (``forwarding``) instead of aiortc's,
with host candidates gathered on chosen addresses (aioice skips loopback by default)
and inside the UDP port range without aioice's interface scan (a scan, when needed,
serves a few seconds of joins), the sockets moved to ``native_socket``, and remote
candidates and datagrams filtered by network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Sequence
from typing import Any

import aioice.ice
from aioice import Candidate, TransportPolicy
from aioice.ice import candidate_foundation, candidate_priority
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtcrtptransceiver import RTCRtpTransceiver
from aiortc.sdp import candidate_from_sdp

from sfu import malformed_datagrams
from sfu.aiortc.certificate import sfu_side
from sfu.aiortc.fast_path import Admission, FastPath
from sfu.aiortc.forwarding import ForwardingReceiver, ForwardingSender
from sfu.aiortc.native_socket import read_natively
from sfu.malformed_datagrams import OnMalformed

HOST_ADDRESSES_TTL_S = 5.0


class ForwardingPeerConnection(RTCPeerConnection):
    """An ``RTCPeerConnection`` whose transceivers forward instead of transcoding."""

    def __init__(
        self,
        ice_servers: Sequence[RTCIceServer] = (),
        ice_addresses: Sequence[str] = (),
        port_range: tuple[int, int] | None = None,
        allowed_remote_networks: Sequence[str] = (),
        on_malformed_datagram: OnMalformed | None = None,
    ) -> None:
        with sfu_side():
            super().__init__(RTCConfiguration(iceServers=list(ice_servers)))
        self._ice_addresses = list(ice_addresses)
        self._port_range = port_range
        self._allowed = [ipaddress.ip_network(n, strict=False) for n in allowed_remote_networks]
        self._accepted_hosts: dict[str, bool] = {}
        self.fast_path: FastPath | None = None
        self.refused_datagrams = 0  # from addresses outside the allowed networks
        self.malformed_datagrams = 0  # that aioice could not parse: dropped
        # remote candidates (SDP and trickled) kept and dropped by the network filter
        self.remote_candidates_accepted = 0
        self.remote_candidates_refused = 0
        self._on_malformed = on_malformed_datagram

    # aiortc calls this (name-mangled private) method to build each transceiver.
    def _RTCPeerConnection__createTransceiver(
        self, direction: str, kind: str, sender_track: Any = None
    ) -> RTCRtpTransceiver:
        transceivers: list[RTCRtpTransceiver] = self._RTCPeerConnection__transceivers  # type: ignore[attr-defined]
        if transceivers:
            dtls = transceivers[0].receiver.transport
            bundled = True
        else:
            dtls = self._RTCPeerConnection__createDtlsTransport()  # type: ignore[attr-defined]
            bundled = False
            self._pin_gathering(dtls)
            self.fast_path = FastPath(dtls)
        sender = ForwardingSender(kind, dtls)
        receiver = ForwardingReceiver(kind, dtls)
        sender.fast_path = self.fast_path
        receiver.fast_path = self.fast_path
        receiver._set_rtcp_ssrc(sender._ssrc)
        transceiver = RTCRtpTransceiver(
            direction=direction, kind=kind, sender=sender, receiver=receiver
        )
        transceiver.sender._stream_id = self._RTCPeerConnection__stream_id  # type: ignore[attr-defined]
        transceiver._bundled = bundled
        transceivers.append(transceiver)
        return transceiver

    def _pin_gathering(self, dtls: RTCDtlsTransport) -> None:
        """Gather host candidates on our addresses (and port range) for this PC only.

        aioice scans the interfaces on every gather, even when the addresses are given;
        here the configured addresses are used as they are, and a scan, when there are
        none, is shared by the joins of the next few seconds.
        """
        connection: Any = dtls.transport.iceGatherer._connection
        original_gather = connection.gather_candidates
        original = connection.get_component_candidates
        chosen = self._ice_addresses
        port_range = self._port_range

        async def gather_candidates() -> None:
            if connection._transport_policy != TransportPolicy.ALL:
                await original_gather()  # relay only: no host address wanted
                self._refuse_other_networks(connection)
                self._guard_datagrams(connection)
                return
            if connection._local_candidates_start:
                return
            connection._local_candidates_start = True
            addresses = list(chosen) or host_addresses(connection._use_ipv4, connection._use_ipv6)
            found = await asyncio.gather(
                *(
                    connection.get_component_candidates(component=component, addresses=addresses)
                    for component in sorted(connection._components)
                )
            )
            for candidates in found:
                connection._local_candidates += candidates
            for protocol in connection._protocols:
                read_natively(protocol)
            self._refuse_other_networks(connection)
            self._guard_datagrams(connection)
            connection._local_candidates_end = True

        async def gather(component: int, addresses: list[str], **kwargs: Any) -> Any:
            if port_range is None:
                return await original(component=component, addresses=addresses, **kwargs)
            return await _gather_in_port_range(connection, component, addresses, port_range)

        connection.gather_candidates = gather_candidates
        connection.get_component_candidates = gather

    def _refuse_other_networks(self, connection: Any) -> None:
        """Drop what comes from outside the allowed networks before aioice sees it.

        The SDP and trickle filters only see announced candidates: a connectivity check
        from another address (the browser's other interfaces, sending to our address)
        would become a peer-reflexive candidate, be answered — traffic to an address we
        must not reach — and could be nominated. STUN and DTLS pass here; RTP and RTCP
        after DTLS are the native ingress's and authenticated by SRTP anyway.
        """
        if not self._allowed:
            return
        for protocol in connection._protocols:
            original = protocol.datagram_received
            if getattr(original, "refuses_other_networks", False):
                continue

            def datagram_received(data: bytes, addr: Any, _o: Any = original) -> None:
                if self._accepts_source(addr[0]):
                    _o(data, addr)
                else:
                    self.refused_datagrams += 1

            datagram_received.refuses_other_networks = True  # type: ignore[attr-defined]
            protocol.datagram_received = datagram_received

    def _guard_datagrams(self, connection: Any) -> None:
        """A datagram aioice cannot parse is dropped and counted, never raised into the
        socket reader (``sfu.malformed_datagrams``)."""
        for protocol in connection._protocols:
            malformed_datagrams.guard(protocol, self._malformed)

    def _malformed(self, addr: Any, error: Exception) -> None:
        self.malformed_datagrams += 1
        if self._on_malformed is not None:
            self._on_malformed(addr, error)

    def _accepts_source(self, host: str) -> bool:
        accepted = self._accepted_hosts.get(host)
        if accepted is None:
            accepted = self.accepts_remote(host)
            if len(self._accepted_hosts) < MAX_REMEMBERED_HOSTS:
                self._accepted_hosts[host] = accepted
        return accepted

    def accepts_remote(self, host: str) -> bool:
        if not self._allowed:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False  # mDNS names and the like: never resolved
        return any(address in network for network in self._allowed)

    def filter_sdp_candidates(self, sdp: str) -> str:
        """Drop ``a=candidate`` lines whose address is outside the allowed networks."""
        if not self._allowed:
            return sdp
        kept = []
        for line in sdp.splitlines():
            if line.startswith("a=candidate:"):
                parts = line.split()
                if len(parts) > 4 and not self.accepts_remote(parts[4]):
                    self.remote_candidates_refused += 1
                    continue
                self.remote_candidates_accepted += 1
            kept.append(line)
        return "\r\n".join(kept) + "\r\n"

    async def set_remote_description(self, sdp: str, kind: str) -> None:
        """The remote ``offer`` or ``answer``, its candidates outside the allowed networks
        dropped first."""
        await self.setRemoteDescription(
            RTCSessionDescription(sdp=self.filter_sdp_candidates(sdp), type=kind)
        )

    async def add_remote_candidate(self, candidate: dict[str, Any]) -> bool:
        """Add a trickled candidate (browser JSON shape); False when filtered out."""
        text = str(candidate.get("candidate") or "")
        if not text:
            return False
        parsed = candidate_from_sdp(
            text.split(":", 1)[1] if text.startswith("candidate:") else text
        )
        if not self.accepts_remote(parsed.ip):
            self.remote_candidates_refused += 1
            return False
        self.remote_candidates_accepted += 1
        parsed.sdpMid = candidate.get("sdpMid")
        index = candidate.get("sdpMLineIndex")
        parsed.sdpMLineIndex = int(index) if index is not None else None
        if parsed.sdpMid is None and parsed.sdpMLineIndex is None:
            parsed.sdpMLineIndex = 0
        await self.addIceCandidate(parsed)
        return True


MAX_REMEMBERED_HOSTS = 64  # source addresses whose verdict a connection keeps


_host_addresses: dict[tuple[bool, bool], tuple[float, list[str]]] = {}


def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's interface scan, reused for ``HOST_ADDRESSES_TTL_S`` (joins come in bursts)."""
    now = time.monotonic()
    cached = _host_addresses.get((use_ipv4, use_ipv6))
    if cached is None or now - cached[0] > HOST_ADDRESSES_TTL_S:
        cached = (now, aioice.ice.get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
        _host_addresses[(use_ipv4, use_ipv6)] = cached
    return list(cached[1])


async def _gather_in_port_range(
    connection: Any, component: int, addresses: Sequence[str], port_range: tuple[int, int]
) -> list[Candidate]:
    """Bind host candidates inside a port range (aioice only binds ephemeral ports)."""
    from aioice.ice import StunProtocol

    loop = asyncio.get_running_loop()
    candidates: list[Candidate] = []
    low, high = port_range
    for address in addresses:
        for port in range(low, high + 1):
            try:
                transport, protocol = await loop.create_datagram_endpoint(
                    lambda: StunProtocol(connection), local_addr=(address, port)
                )
            except OSError:
                continue
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * 1024 * 1024)
            host, bound_port = transport.get_extra_info("sockname")[:2]
            protocol.local_candidate = Candidate(
                foundation=candidate_foundation("host", "udp", host),
                component=component,
                transport="udp",
                priority=candidate_priority(component, "host"),
                host=host,
                port=bound_port,
                type="host",
            )
            connection._protocols.append(protocol)
            candidates.append(protocol.local_candidate)
            break
    return candidates


def rewrite_candidate_addresses(sdp: str, announced: str | None) -> str:
    """Write the announced address into our candidates (server behind 1:1 NAT)."""
    if not announced:
        return sdp
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) > 4:
                parts[4] = announced
                line = " ".join(parts)
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def ice_servers_for(servers: Sequence[Any]) -> list[RTCIceServer]:
    return [
        RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
        for s in servers
    ]


def remote_sends(transceiver: RTCRtpTransceiver) -> bool:
    """Whether the remote offer sends media on this m-line (aiortc stores it reversed)."""
    return transceiver._offerDirection in ("recvonly", "sendrecv")


def codec_capabilities_for(kind: str, mime_type: str) -> list[Any]:
    """Our codec capabilities restricted to one codec (and its RTX), for forwarding as-is."""
    capabilities = RTCRtpSender.getCapabilities(kind)
    chosen = [c for c in capabilities.codecs if c.mimeType.lower() == mime_type.lower()]
    if chosen and kind == "video":
        chosen += [c for c in capabilities.codecs if c.mimeType.lower() == "video/rtx"]
    return chosen


def restrict_codecs(transceiver: RTCRtpTransceiver, allowed: Sequence[str]) -> bool:
    """Keep only the ``allowed`` codecs (in that order, with their RTX) that a remote
    offer negotiated on ``transceiver``, before the answer is made: the answer then
    asks the publisher for one of them. False, and nothing changed, when the offer has
    none of them (a sender with one codec keeps it)."""
    codecs = list(transceiver._codecs)
    order = [mime.lower() for mime in allowed]
    chosen = sorted(
        (c for c in codecs if c.mimeType.lower() in order),
        key=lambda c: order.index(c.mimeType.lower()),
    )
    if not chosen:
        return False
    kept_types = {c.payloadType for c in chosen}
    rtx = [
        c
        for c in codecs
        if c.mimeType.lower() == "video/rtx" and c.parameters.get("apt") in kept_types
    ]
    transceiver._codecs = chosen + rtx
    return True


def negotiated_mime(transceiver: RTCRtpTransceiver) -> str | None:
    """The codec a transceiver sends or receives with (the first negotiated)."""
    codecs = transceiver._codecs
    return str(codecs[0].mimeType) if codecs else None


def install_impairment(pc: ForwardingPeerConnection, impairment: Admission) -> None:
    """Test only: let ``impairment`` drop what this PC sends, RTP and RTCP alike."""
    transceivers = pc.getTransceivers()
    if not transceivers or pc.fast_path is None:
        raise ValueError("the connection has no transport yet")
    pc.fast_path.impairment = impairment
    ice_transport: Any = transceivers[0].sender.transport.transport
    original = ice_transport._send

    async def send(data: bytes) -> None:
        if impairment.admit(len(data)):
            await original(data)

    ice_transport._send = send
