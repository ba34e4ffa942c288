"""ICE consent freshness answered and sent at byte level (``sfu.aiortc.ice_consent``).

The unit tests hold ``Consent`` to aioice's own bytes: requests built by aioice's
``stun.Message`` are answered with exactly what aioice's ``datagram_received`` sends,
anything unusual is left to aioice, and our checks are what aioice's ``build_request``
would send. The end-to-end tests run real aiortc/aioice clients through the SFU on
127.0.0.1: their consent checks keep succeeding, ours are confirmed, and a client that
goes silent loses its connection once consent expires.
"""

from __future__ import annotations

import asyncio
import random
import struct
import time
from collections.abc import Iterator
from typing import Any

import aioice.ice
import pytest
import structlog
from aioice import stun
from aioice.candidate import Candidate, candidate_priority
from aioice.ice import CandidatePair, Connection, StunProtocol

import sfu.aiortc.ice_consent
from bench.sfu_loopback_client import LoopbackClient, connect_pair
from sfu import Sfu, SfuConfig
from sfu.aiortc import FastPath
from sfu.aiortc.ice_consent import Consent
from tests.support.waiting import until

LOOPBACK = SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",))
REMOTE_USERNAME = "rUfr"
REMOTE_PASSWORD = "R" * 22
IPV4 = (("127.0.0.1", 40000), ("127.0.0.2", 50000))
IPV6 = (("2001:db8::1", 40000), ("2001:db8::7", 50000))


class RecordingTransport:
    """Stands for the UDP socket of a hand-built connection: keeps what is sent."""

    def __init__(self, protocol: StunProtocol) -> None:
        self.protocol = protocol
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> None:
        self.sent.append((data, addr))

    def close(self) -> None:
        asyncio.get_running_loop().call_soon(self.protocol.connection_lost, None)


class Settled:
    """A real aioice ``Connection`` in the state ``connect()`` leaves it in: one pair,
    succeeded and nominated (by the remote side when we are controlled)."""

    def __init__(self, local: tuple[str, int], remote: tuple[str, int], controlling: bool):
        self.connection = connection = Connection(ice_controlling=controlling)
        connection.remote_username = REMOTE_USERNAME
        connection.remote_password = REMOTE_PASSWORD
        self.protocol = protocol = StunProtocol(connection)
        protocol.local_candidate = Candidate(
            "1", 1, "udp", candidate_priority(1, "host"), local[0], local[1], "host"
        )
        self.transport = RecordingTransport(protocol)
        protocol.connection_made(self.transport)  # type: ignore[arg-type]
        connection._protocols.append(protocol)
        remote_candidate = Candidate(
            "2", 1, "udp", candidate_priority(1, "host"), remote[0], remote[1], "host"
        )
        connection._add_remote_candidate(remote_candidate, remote[0])
        self.pair = pair = connection._check_list[0]
        pair.state = CandidatePair.State.SUCCEEDED
        pair.nominated = True
        pair.remote_nominated = not controlling
        connection._nominated[1] = pair
        connection._early_checks_done = True
        connection._check_list_done = True
        self.remote = remote
        self.consent = Consent(connection)

    @property
    def local_key(self) -> bytes:
        return self.connection.local_password.encode()

    def request(self, *, controlling: bool | None = None, use_candidate: bool = False) -> bytes:
        """What the remote peer's aioice sends: a Binding request signed with our password."""
        message = self.request_message(controlling=controlling, use_candidate=use_candidate)
        message.add_message_integrity(self.local_key)
        return bytes(message)

    def request_message(
        self, *, controlling: bool | None = None, use_candidate: bool = False
    ) -> stun.Message:
        if controlling is None:
            controlling = not self.connection.ice_controlling
        message = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        message.attributes["USERNAME"] = f"{self.connection.local_username}:{REMOTE_USERNAME}"
        message.attributes["PRIORITY"] = candidate_priority(1, "prflx")
        role = "ICE-CONTROLLING" if controlling else "ICE-CONTROLLED"
        message.attributes[role] = 0x0123456789ABCDEF
        if use_candidate:
            message.attributes["USE-CANDIDATE"] = None
        return message

    def state(self) -> tuple[Any, ...]:
        """What aioice's check_incoming could change."""
        connection = self.connection
        return (
            [(p, p.state, p.nominated, p.remote_nominated, p.task) for p in connection._check_list],
            list(connection._remote_candidates),
            dict(connection._nominated),
            connection.ice_controlling,
            connection._check_list_done,
        )


def signed(unsigned: bytes, key: bytes, fingerprint: bool = True) -> bytes:
    """Append MESSAGE-INTEGRITY (and FINGERPRINT) to raw message bytes, with aioice's
    own functions: for messages aioice's ``Message`` cannot build (unknown attributes)."""
    data = unsigned
    integrity = stun.message_integrity(data, key)
    data = stun.set_body_length(data, len(data) - 20 + 24) + struct.pack("!HH", 8, 20)
    data += integrity
    if fingerprint:
        crc = stun.message_fingerprint(data)
        data = stun.set_body_length(data, len(data) - 20 + 8) + struct.pack("!HHI", 0x8028, 4, crc)
    return data


def with_attribute(message: stun.Message, kind: int, value: bytes) -> bytes:
    """The message's bytes with one raw attribute appended (length fixed up)."""
    data = bytes(message) + struct.pack("!HH", kind, len(value)) + value
    data += b"\x00" * (-len(value) & 3)
    return stun.set_body_length(data, len(data) - 20)


@pytest.fixture(params=[IPV4, IPV6], ids=["ipv4", "ipv6"])
def addresses(request: pytest.FixtureRequest) -> tuple[tuple[str, int], tuple[str, int]]:
    return request.param


# --- answering ----------------------------------------------------------------------


@pytest.mark.parametrize("controlling", [False, True], ids=["controlled", "controlling"])
@pytest.mark.parametrize("use_candidate", [False, True], ids=["plain", "use-candidate"])
async def test_answers_exactly_as_aioice_does(
    addresses: tuple[tuple[str, int], tuple[str, int]], controlling: bool, use_candidate: bool
) -> None:
    local, remote = addresses
    settled = Settled(local, remote, controlling)
    data = settled.request(use_candidate=use_candidate)
    before = settled.state()

    assert settled.consent.answer(data, remote, settled.protocol)
    assert (settled.consent.answered, settled.consent.passed) == (1, 0)
    [(ours, to)] = settled.transport.sent
    assert to == remote
    response = stun.parse_message(ours)
    assert response.message_class == stun.Class.RESPONSE
    assert response.transaction_id == data[8:20]
    assert response.attributes["XOR-MAPPED-ADDRESS"] == remote
    assert response.check_message_integrity(settled.local_key)
    assert list(response.attributes) == ["XOR-MAPPED-ADDRESS", "MESSAGE-INTEGRITY", "FINGERPRINT"]

    # aioice, given the same request, sends the same bytes and changes nothing
    settled.protocol.datagram_received(data, remote)
    [_, (theirs, _)] = settled.transport.sent
    assert ours == theirs
    assert settled.state() == before


async def test_ipv6_four_tuple_address_and_cached_mapped_address() -> None:
    local, remote = IPV6
    settled = Settled(local, remote, controlling=False)
    addr = (remote[0], remote[1], 0, 0)  # what the socket gives for IPv6
    for _ in range(3):
        assert settled.consent.answer(settled.request(), addr, settled.protocol)
    assert settled.consent.answered == 3
    for data, to in settled.transport.sent:
        assert to == addr
        assert stun.parse_message(data).attributes["XOR-MAPPED-ADDRESS"] == remote
    assert len(settled.consent._mapped) == 1


async def test_unknown_optional_attributes_are_ignored() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=False)
    # Chrome's GOOG-NETWORK-INFO, comprehension-optional, before MESSAGE-INTEGRITY
    raw = with_attribute(settled.request_message(), 0xC057, b"\x00\x01\x00\x0a")
    data = signed(raw, settled.local_key)
    assert settled.consent.answer(data, remote, settled.protocol)
    # and without FINGERPRINT, which is optional
    data = signed(raw, settled.local_key, fingerprint=False)
    assert settled.consent.answer(data, remote, settled.protocol)
    assert settled.consent.answered == 2
    for response, _ in settled.transport.sent:
        assert stun.parse_message(response).check_message_integrity(settled.local_key)


def refused_requests(settled: Settled) -> Iterator[tuple[str, bytes]]:
    """Requests that are aioice's to answer (errors, role switch) or to ignore."""
    key = settled.local_key
    good = settled.request()

    message = settled.request_message()
    message.add_message_integrity(b"not-the-password-at-all")
    yield "wrong password", bytes(message)

    for username in (f"nope:{REMOTE_USERNAME}", f"{settled.connection.local_username}:nope"):
        message = settled.request_message()
        message.attributes["USERNAME"] = username
        message.add_message_integrity(key)
        yield f"wrong username {username}", bytes(message)

    message = settled.request_message()
    del message.attributes["USERNAME"]
    message.add_message_integrity(key)
    yield "no USERNAME", bytes(message)

    yield "no MESSAGE-INTEGRITY", bytes(settled.request_message())

    unknown = with_attribute(settled.request_message(), 0x0030, b"\x00\x00\x00\x00")
    yield "unknown comprehension-required attribute", signed(unknown, key)

    known_elsewhere = with_attribute(settled.request_message(), 0x0003, b"\x00\x00\x00\x04")
    yield "CHANGE-REQUEST", signed(known_elsewhere, key)

    role = settled.connection.ice_controlling
    yield "role conflict", settled.request(controlling=role)

    bad_fingerprint = bytearray(good)
    bad_fingerprint[-1] ^= 0x01
    yield "bad fingerprint", bytes(bad_fingerprint)

    # SOFTWARE after MESSAGE-INTEGRITY: unauthenticated, which aioice ignores
    after = signed(bytes(settled.request_message()), key, fingerprint=False)
    after += struct.pack("!HH", 0x8022, 4) + b"test"
    yield "attribute after MESSAGE-INTEGRITY", stun.set_body_length(after, len(after) - 20)

    indication = bytearray(good)
    indication[0:2] = b"\x00\x11"
    yield "Binding indication", bytes(indication)

    allocate = bytearray(good)
    allocate[0:2] = b"\x00\x03"
    yield "Allocate request", bytes(allocate)

    yield "length field off", good[:2] + struct.pack("!H", len(good) - 16) + good[4:]
    yield "no magic cookie", good[:4] + b"\x00\x00\x00\x00" + good[8:]
    yield "truncated", good[:-4]
    yield "header only", good[:20]
    yield "DTLS", b"\x16\xfe\xfd" + bytes(40)
    yield "empty", b""


async def test_everything_unusual_is_left_to_aioice() -> None:
    local, remote = IPV4
    for controlling in (False, True):
        settled = Settled(local, remote, controlling)
        cases = list(refused_requests(settled))
        for what, data in cases:
            assert settled.consent.answer(data, remote, settled.protocol) is False, what
        assert settled.consent.answered == 0
        assert settled.consent.passed == len(cases)
        assert settled.transport.sent == []


async def test_requests_from_elsewhere_or_in_other_states_are_left_to_aioice() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=False)
    data = settled.request()
    consent = settled.consent

    assert not consent.answer(data, (remote[0], remote[1] + 1), settled.protocol)
    assert not consent.answer(data, ("127.0.0.3", remote[1]), settled.protocol)
    assert not consent.answer(data, None, settled.protocol)  # type: ignore[arg-type]
    other = StunProtocol(settled.connection)
    other.local_candidate = settled.protocol.local_candidate
    other.connection_made(RecordingTransport(other))  # type: ignore[arg-type]
    assert not consent.answer(data, remote, other)

    settled.connection._early_checks_done = False
    assert not consent.answer(data, remote, settled.protocol)
    settled.connection._early_checks_done = True

    settled.pair.state = CandidatePair.State.IN_PROGRESS
    assert not consent.answer(data, remote, settled.protocol)
    settled.pair.state = CandidatePair.State.SUCCEEDED

    settled.connection._closing = True
    assert not consent.answer(data, remote, settled.protocol)
    settled.connection._closing = False

    assert consent.answer(data, remote, settled.protocol)
    assert (consent.answered, consent.passed) == (1, 7)


async def test_a_nomination_that_would_prune_a_pair_is_left_to_aioice() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=False)
    # another pair still waiting on the same component
    settled.connection._add_remote_candidate(
        Candidate("3", 1, "udp", candidate_priority(1, "host"), "127.0.0.9", 9, "host"),
        "127.0.0.9",
    )
    [waiting] = [p for p in settled.connection._check_list if p is not settled.pair]
    waiting.state = CandidatePair.State.WAITING

    assert settled.consent.answer(settled.request(), remote, settled.protocol)
    nominating = settled.request(use_candidate=True)
    assert not settled.consent.answer(nominating, remote, settled.protocol)
    # which matters: aioice removes the waiting pair on that request
    settled.protocol.datagram_received(nominating, remote)
    assert waiting not in settled.connection._check_list


async def test_garbled_datagrams_never_raise() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=False)
    consent = settled.consent
    good = settled.request(use_candidate=True)
    garbled = [good[:size] for size in range(len(good))]
    for index in range(len(good)):
        for flip in (0x01, 0x80, 0xFF):
            damaged = bytearray(good)
            damaged[index] ^= flip
            garbled.append(bytes(damaged))
    rng = random.Random(7675)
    for _ in range(2000):
        size = 20 + 4 * rng.randrange(0, 30)
        body = bytes(rng.randrange(256) for _ in range(size - 20))
        header = struct.pack("!HHI", rng.choice((0x0001, 0x0101)), size - 20, stun.COOKIE)
        garbled.append(header + good[8:20] + body)
        # well-formed attribute headers with random types and lengths
        attrs = b"".join(
            struct.pack("!HH", rng.randrange(65536), rng.randrange(0, 40)) for _ in range(4)
        )
        garbled.append(struct.pack("!HHI", 1, len(attrs), stun.COOKIE) + good[8:20] + attrs)
    for data in garbled:
        assert consent.answer(data, remote, settled.protocol) is False
    assert consent.answered == 0
    assert consent.answer(good, remote, settled.protocol)


# --- checking -----------------------------------------------------------------------


@pytest.mark.parametrize("controlling", [False, True], ids=["controlled", "controlling"])
async def test_our_checks_are_aioice_requests_byte_for_byte(
    addresses: tuple[tuple[str, int], tuple[str, int]], controlling: bool
) -> None:
    local, remote = addresses
    settled = Settled(local, remote, controlling)
    connection = settled.connection
    consent = settled.consent
    consent._send_checks(time.monotonic())
    [(ours, to)] = settled.transport.sent
    assert to == remote
    assert consent.sent == 1

    theirs = connection.build_request(settled.pair, nominate=False)
    theirs.transaction_id = ours[8:20]
    theirs.add_message_integrity(REMOTE_PASSWORD.encode())
    assert ours == bytes(theirs)
    assert list(consent._pending) == [ours[8:20]]


def peer_answer(
    request: bytes, mapped: tuple[str, int], key: bytes = REMOTE_PASSWORD.encode()
) -> bytes:
    """The success response aioice's request_received sends for ``request``."""
    response = stun.Message(stun.Method.BINDING, stun.Class.RESPONSE, transaction_id=request[8:20])
    response.attributes["XOR-MAPPED-ADDRESS"] = mapped
    response.add_message_integrity(key)
    return bytes(response)


async def test_authenticated_answers_to_our_checks_confirm_consent(
    addresses: tuple[tuple[str, int], tuple[str, int]],
) -> None:
    local, remote = addresses
    settled = Settled(local, remote, controlling=False)
    consent = settled.consent
    consent.last_confirmed = 0.0
    consent._send_checks(time.monotonic())
    [(request, _)] = settled.transport.sent
    protocol = settled.protocol

    assert not consent.answer(peer_answer(request, local, b"wrong-key"), remote, protocol)
    assert not consent.answer(peer_answer(bytes(12) + bytes(8), local), remote, protocol)
    error = stun.Message(stun.Method.BINDING, stun.Class.ERROR, transaction_id=request[8:20])
    error.attributes["ERROR-CODE"] = (487, "Role Conflict")
    error.add_message_integrity(REMOTE_PASSWORD.encode())
    assert not consent.answer(bytes(error), remote, protocol)
    assert not consent.answer(peer_answer(request, local), (remote[0], remote[1] + 1), protocol)
    assert consent.confirmed == 0 and consent.last_confirmed == 0.0

    answer = peer_answer(request, local)
    assert consent.answer(answer, remote, protocol)
    assert consent.confirmed == 1 and consent.last_confirmed > 0.0
    assert not consent.answer(answer, remote, protocol)  # once per transaction
    assert consent._pending == {}
    assert consent.passed == 5


@pytest.fixture
def quick_consent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks every 50 ms, consent lost after 0.4 s: the checker's life in a second."""
    monkeypatch.setattr(sfu.aiortc.ice_consent, "CONSENT_INTERVAL_S", 0.05)
    monkeypatch.setattr(sfu.aiortc.ice_consent, "CONSENT_EXPIRY_S", 0.4)


@pytest.mark.usefixtures("quick_consent")
async def test_silence_expires_consent_and_closes_the_connection() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=False)
    connection = settled.connection
    aioice_task = asyncio.create_task(connection.query_consent())
    connection._query_consent_task = aioice_task
    with structlog.testing.capture_logs() as logs:
        settled.consent.start()
        assert connection._query_consent_task is settled.consent._task
        assert await until(lambda: connection._closed, 5, poll_s=0.02)
    assert aioice_task.cancelled()
    assert settled.consent.expired
    assert settled.consent.sent >= 4
    assert len(settled.consent._pending) <= settled.consent.sent
    assert [entry["event"] for entry in logs] == ["ice consent expired"]
    assert settled.consent._task is not None and settled.consent._task.done()


@pytest.mark.usefixtures("quick_consent")
async def test_answers_keep_consent_and_close_cancels_the_checker() -> None:
    local, remote = IPV4
    settled = Settled(local, remote, controlling=True)
    consent = settled.consent
    consent.start()
    deadline = time.monotonic() + 1.5
    answered = 0
    while time.monotonic() < deadline:  # answer every check, as a live peer would
        await asyncio.sleep(0.01)
        for request, _ in settled.transport.sent[answered:]:
            assert consent.answer(peer_answer(request, local), remote, settled.protocol)
        answered = len(settled.transport.sent)
    assert not settled.connection._closed and not consent.expired
    assert consent.confirmed >= 10
    assert consent._task is not None
    await asyncio.wait_for(settled.connection.close(), 5)
    assert consent._task.cancelled()


# --- end to end ---------------------------------------------------------------------


def sfu_fast_paths(sfu: Sfu) -> list[FastPath]:
    found = []
    for room in sfu.rooms.values():
        for participant in room.participants.values():
            for pc in (participant._publish_pc, participant._subscribe_pc):
                if pc is not None and pc.fast_path is not None:
                    found.append(pc.fast_path)
    return found


def client_connection(pc: Any) -> Connection:
    connection: Connection = pc.getTransceivers()[0].sender.transport.transport._connection
    return connection


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_real_peers_keep_consent_through_the_sfu(monkeypatch: pytest.MonkeyPatch) -> None:
    # the clients' aioice checks every 0.2 s and closes after 6 failures (~4.4 s at most);
    # the SFU's connections no longer use aioice's consent task at all
    monkeypatch.setattr(aioice.ice, "CONSENT_INTERVAL", 0.2)
    monkeypatch.setattr(sfu.aiortc.ice_consent, "CONSENT_INTERVAL_S", 0.2)
    sfu_ = Sfu(LOOPBACK)
    room = sfu_.room("consent")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await bob.wait_for_frames("audio", 10) >= 10
        fast_paths = sfu_fast_paths(sfu_)
        assert len(fast_paths) == 4
        consents = [fp.consent for fp in fast_paths if fp.consent is not None]
        assert len(consents) == 4
        for fast_path, consent in zip(fast_paths, consents, strict=True):
            assert fast_path._connection._query_consent_task is consent._task
        # both roles are exercised: the SFU answers publish offers and makes subscribe ones
        assert {fp._connection.ice_controlling for fp in fast_paths} == {False, True}

        before = [(c.answered, c.passed, c.confirmed) for c in consents]
        frames = (alice.frames("audio"), bob.frames("audio"))
        await asyncio.sleep(5.0)

        for consent, (answered, passed, confirmed) in zip(consents, before, strict=True):
            assert consent.answered - answered >= 10  # the clients' checks, answered here
            assert consent.passed == passed  # none of them needed aioice
            assert consent.confirmed - confirmed >= 10  # the clients answered ours
            assert not consent.expired
        for client in (alice, bob):
            for pc in (client.publish_pc, client.subscribe_pc):
                assert pc is not None and pc.connectionState == "connected"
                connection = client_connection(pc)
                assert not connection._closed
                assert connection._query_consent_task is not None
                assert not connection._query_consent_task.done()
        assert alice.frames("audio") > frames[0] + 100
        assert bob.frames("audio") > frames[1] + 100

        # a check through aioice's own transaction (which verifies MESSAGE-INTEGRITY),
        # nominating as a controlling browser does on every check: answered here too
        assert alice.publish_pc is not None
        connection = client_connection(alice.publish_pc)
        assert connection.ice_controlling
        pair = connection._nominated[1]
        publish_consent = next(
            fp.consent for fp in fast_paths if fp.dtls is sfu_publish_dtls(alice)
        )
        assert publish_consent is not None
        passed = publish_consent.passed
        answered = publish_consent.answered
        for nominate in (False, True):
            request = connection.build_request(pair, nominate=nominate)
            assert connection.remote_password is not None
            response, addr = await asyncio.wait_for(
                pair.protocol.request(
                    request, pair.remote_addr, integrity_key=connection.remote_password.encode()
                ),
                5,
            )
            assert addr == pair.remote_addr
            assert response.attributes["XOR-MAPPED-ADDRESS"] == pair.local_addr
        assert publish_consent.answered >= answered + 2
        assert publish_consent.passed == passed
    finally:
        await alice.close()
        await bob.close()
        await sfu_.close()


def sfu_publish_dtls(client: LoopbackClient) -> Any:
    pc = client.participant._publish_pc
    assert pc is not None and pc.fast_path is not None
    return pc.fast_path.dtls


@pytest.mark.slow
@pytest.mark.timeout(90)
async def test_a_silent_peer_loses_its_connection_and_the_sfu_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sfu.aiortc.ice_consent, "CONSENT_INTERVAL_S", 0.2)
    monkeypatch.setattr(sfu.aiortc.ice_consent, "CONSENT_EXPIRY_S", 2.0)
    sfu_ = Sfu(LOOPBACK)
    room = sfu_.room("consent-expiry")
    alice = LoopbackClient(room.add_participant("alice"))
    bob = LoopbackClient(room.add_participant("bob"))
    try:
        await connect_pair(alice, bob)
        assert await alice.wait_for_frames("video", 5) >= 5
        publish_pc = alice.participant._publish_pc
        assert publish_pc is not None and publish_pc.fast_path is not None
        consent = publish_pc.fast_path.consent
        assert consent is not None
        sfu_connection = publish_pc.fast_path._connection
        others = [
            fp.consent
            for fp in sfu_fast_paths(sfu_)
            if fp.consent is not None and fp.consent is not consent
        ]
        assert len(others) == 3

        # alice's publishing client vanishes: its sockets close, it answers nothing
        # more and sends no DTLS close
        assert alice.publish_pc is not None
        for protocol in client_connection(alice.publish_pc)._protocols:
            protocol.transport.abort()
        silent_since = time.monotonic()
        with structlog.testing.capture_logs() as logs:
            assert await until(lambda: sfu_connection._closed, 15, poll_s=0.05)
        took = time.monotonic() - silent_since
        assert consent.expired
        assert 1.5 < took < 10, took
        assert [e["event"] for e in logs if e["event"] == "ice consent expired"] == [
            "ice consent expired"
        ]
        assert await until(lambda: publish_pc.iceConnectionState in ("failed", "closed"), 5)
        assert publish_pc.fast_path._hooked == []  # DTLS closed: fast path removed

        # the SFU goes on: alice still receives bob's media, every other consent holds
        frames = alice.frames("video")
        confirmed = [c.confirmed for c in others]
        assert await until(lambda: alice.frames("video") > frames + 10, 15)
        for other, before in zip(others, confirmed, strict=True):
            assert not other.expired and other.confirmed > before
        assert alice.subscribe_pc is not None
        assert alice.subscribe_pc.connectionState == "connected"
    finally:
        await alice.close()
        await bob.close()
        await sfu_.close()
