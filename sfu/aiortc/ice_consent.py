"""ICE consent freshness (RFC 7675) on a connected aioice ``Connection``, at byte level.

Once a call is up, the only STUN left on a connection is consent: the peer's Binding
request every few seconds, and ours. aioice handles each one with generic ``Message``
objects, ``hmac.new``, ``ipaddress`` and logging calls, about 230 µs per request answered
and 100 µs plus a ``Transaction`` (futures, timers) per check sent; at ten audio calls
that was a tenth of the SFU process's CPU. ``Consent`` does the same work with
``struct``, ``hmac.digest`` and ``zlib.crc32``.

It handles only the steady case and hands everything else to aioice, which then does
exactly what it did before: a request that is not an authenticated Binding request on
the nominated pair, from its remote address, with nothing unusual in it (unknown
comprehension-required attribute, role conflict, a nomination that would change state)
goes to aioice, as do responses that are not to our own checks.

Inside ``sfu.aiortc`` because it reads ``Connection``'s private attributes
(``_nominated``, ``_closing``, ``_early_checks_done``, ``_check_list``,
``_remote_candidates``, ``_tie_breaker``, ``_query_consent_task``) of aioice 0.13.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import random
import socket
import struct
import time
import zlib
from typing import Any

import structlog
from aioice.candidate import candidate_priority
from aioice.ice import CandidatePair, Connection

__all__ = ["CONSENT_EXPIRY_S", "CONSENT_INTERVAL_S", "Consent"]

log = structlog.get_logger(__name__)

# RFC 7675: a check every 5 s (randomised ±20 %), consent lost after 30 s unanswered.
# Read at each use, so a test can shorten them.
CONSENT_INTERVAL_S = 5.0
CONSENT_EXPIRY_S = 30.0

MAX_CACHED_ADDRESSES = 16  # encoded XOR-MAPPED-ADDRESS per peer address; one in practice

COOKIE = 0x2112A442
_COOKIE_BYTES = COOKIE.to_bytes(4, "big")
_FINGERPRINT_XOR = 0x5354554E
_BINDING_REQUEST = 0x0001
_BINDING_SUCCESS = 0x0101

_MAPPED = 0x0020  # XOR-MAPPED-ADDRESS
_USERNAME = 0x0006
_INTEGRITY = 0x0008
_PRIORITY = 0x0024
_USE_CANDIDATE = 0x0025
_CONTROLLED = 0x8029
_CONTROLLING = 0x802A
_FINGERPRINT = 0x8028

# the attributes understood, each with the only length accepted for it (None: any)
_LENGTHS: dict[int, int | None] = {
    _USERNAME: None,
    _INTEGRITY: 20,
    _PRIORITY: 4,
    _USE_CANDIDATE: 0,
    _CONTROLLED: 8,
    _CONTROLLING: 8,
    _FINGERPRINT: 4,
    _MAPPED: None,
}
_INTEGRITY_HEADER = struct.pack("!HH", _INTEGRITY, 20)
_HEADER = struct.Struct("!HHI")
_ATTRIBUTE = struct.Struct("!HH")
_WORD = struct.Struct("!I")
_LENGTH = struct.Struct("!H")

_SUCCEEDED = CandidatePair.State.SUCCEEDED
_UNCHECKED = (CandidatePair.State.WAITING, CandidatePair.State.FROZEN)

Address = tuple[Any, ...]


class _Parsed:
    """What the attribute walk found (a slotted record: no dict per datagram)."""

    __slots__ = ("fingerprint", "integrity", "types", "username")

    def __init__(self) -> None:
        self.integrity = -1  # offset of MESSAGE-INTEGRITY, -1 when absent
        self.fingerprint = -1  # offset of FINGERPRINT, -1 when absent
        self.types: set[int] = set()
        self.username: bytes | None = None


def _walk(data: bytes, size: int, strict: bool) -> _Parsed | None:
    """The attributes of a STUN message whose header is already checked.

    None when the message is anything but plain: an attribute overrunning the message,
    a known one with an unexpected length or repeated, anything after FINGERPRINT or
    (but FINGERPRINT) after MESSAGE-INTEGRITY, and when ``strict`` an unknown
    comprehension-required attribute. Unknown comprehension-optional attributes
    (≥ 0x8000, e.g. GOOG-NETWORK-INFO) are skipped, as aioice does.
    """
    parsed = _Parsed()
    types = parsed.types
    pos = 20
    while pos < size:
        if pos + 4 > size or parsed.fingerprint >= 0:
            return None
        kind, length = _ATTRIBUTE.unpack_from(data, pos)
        end = pos + 4 + ((length + 3) & ~3)
        if end > size:
            return None
        if kind == _FINGERPRINT:
            if length != 4:
                return None
            parsed.fingerprint = pos
        elif parsed.integrity >= 0:
            return None
        elif kind in _LENGTHS:
            expected = _LENGTHS[kind]
            if (expected is not None and length != expected) or kind in types:
                return None
            types.add(kind)
            if kind == _INTEGRITY:
                parsed.integrity = pos
            elif kind == _USERNAME:
                parsed.username = data[pos + 4 : pos + 4 + length]
        elif kind < 0x8000 and strict:
            return None
        pos = end
    return parsed


def _authentic(data: bytes, parsed: _Parsed, key: bytes) -> bool:
    """FINGERPRINT (when present) and MESSAGE-INTEGRITY both check out (RFC 8489 14.5, 14.7)."""
    integrity = parsed.integrity
    if integrity < 0:
        return False
    fingerprint = parsed.fingerprint
    if fingerprint >= 0:
        # FINGERPRINT is last, so the header's length already covers it
        value = _WORD.unpack_from(data, fingerprint + 4)[0]
        if zlib.crc32(memoryview(data)[:fingerprint]) ^ _FINGERPRINT_XOR != value:
            return False
        signed = data[:2] + _LENGTH.pack(integrity + 4) + data[4:integrity]
    else:
        signed = data[:integrity]  # MESSAGE-INTEGRITY is last: the length covers it
    digest = hmac.digest(key, signed, "sha1")
    return hmac.compare_digest(digest, data[integrity + 4 : integrity + 24])


def _signed(kind: int, transaction_id: bytes, attributes: bytes, key: bytes) -> bytes:
    """A message with MESSAGE-INTEGRITY then FINGERPRINT, as aioice's
    ``add_message_integrity`` builds it (each over the length that covers it)."""
    size = len(attributes)
    head = _HEADER.pack(kind, size + 24, COOKIE) + transaction_id + attributes
    digest = hmac.digest(key, head, "sha1")
    message = (
        _HEADER.pack(kind, size + 32, COOKIE)
        + transaction_id
        + attributes
        + _INTEGRITY_HEADER
        + digest
    )
    crc = zlib.crc32(message) ^ _FINGERPRINT_XOR
    return message + struct.pack("!HHI", _FINGERPRINT, 4, crc)


class Consent:
    """Consent freshness of one aioice ``Connection``: answers the peer's checks
    (``answer``) and sends ours (``start``), keeping the connection only while the
    peer answers.

    Counters: ``answered`` requests answered here, ``passed`` STUN datagrams handed to
    aioice, ``sent`` checks sent, ``confirmed`` authenticated answers to them.
    """

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.answered = 0
        self.passed = 0
        self.sent = 0
        self.confirmed = 0
        self.expired = False
        self.last_confirmed = time.monotonic()
        # our checks' transaction ids: when sent, on which protocol, to which address
        self._pending: dict[bytes, tuple[float, Any, tuple[str, int]]] = {}
        # per peer address: XOR-MAPPED-ADDRESS whole (IPv4) or its first 8 bytes and
        # the address as an integer (IPv6, xored with the transaction id each time)
        self._mapped: dict[tuple[str, int], tuple[bytes, int]] = {}
        self._task: asyncio.Task[None] | None = None

    # --- incoming -----------------------------------------------------------------
    def answer(self, data: bytes, addr: Address, protocol: Any) -> bool:
        """True when the datagram was handled here; False: aioice must handle it.

        Never raises: whatever cannot be handled here is aioice's, as before.
        """
        try:
            handled = self._answer(data, addr, protocol)
        except (struct.error, ValueError, TypeError, IndexError, OSError, AttributeError):
            handled = False
        if not handled:
            self.passed += 1
        return handled

    def _answer(self, data: bytes, addr: Address, protocol: Any) -> bool:
        size = len(data)
        if size < 20 or size & 3:
            return False
        kind, length, cookie = _HEADER.unpack_from(data)
        if cookie != COOKIE or length != size - 20:
            return False
        if kind == _BINDING_REQUEST:
            return self._request(data, size, addr, protocol)
        if kind == _BINDING_SUCCESS:
            return self._response(data, size, addr, protocol)
        return False

    def _request(self, data: bytes, size: int, addr: Address, protocol: Any) -> bool:
        connection = self.connection
        if connection._closing or not connection._early_checks_done:
            return False
        host, port = addr[0], addr[1]
        pair = None
        for nominated in connection._nominated.values():
            if nominated.protocol is protocol:
                candidate = nominated.remote_candidate
                if candidate._network_host == host and candidate.port == port:
                    pair = nominated
                    break
        if pair is None:
            return False
        parsed = _walk(data, size, strict=True)
        if parsed is None or _MAPPED in parsed.types:
            return False
        username = f"{connection.local_username}:{connection.remote_username}"
        if parsed.username != username.encode():
            return False
        # a role conflict is aioice's to resolve (RFC 8445 section 7.3.1.1)
        controlling = connection.ice_controlling
        if (_CONTROLLING if controlling else _CONTROLLED) in parsed.types:
            return False
        nominating = _USE_CANDIDATE in parsed.types and not controlling
        if not self._settled(pair, host, port, nominating):
            return False
        key = connection.local_password.encode()
        if not _authentic(data, parsed, key):
            return False
        transaction_id = data[8:20]
        response = _signed(
            _BINDING_SUCCESS, transaction_id, self._xor_mapped(host, port, transaction_id), key
        )
        protocol.transport.sendto(response, addr)
        self.answered += 1
        return True

    def _settled(self, pair: CandidatePair, host: str, port: int, nominating: bool) -> bool:
        """Whether aioice's ``check_incoming`` would change nothing for this request.

        It looks up the first remote candidate at the address and the first pair of that
        candidate on this socket: if that is the nominated pair and it succeeded, no
        triggered check starts. With USE-CANDIDATE (we are controlled) it also marks the
        pair nominated again and runs ``check_complete``, a no-op only while the pair is
        already remotely nominated, has no check running, every component is nominated,
        the check list is done and no unchecked pair of the component is left to prune.
        """
        if pair.state is not _SUCCEEDED:
            return False
        connection = self.connection
        for candidate in connection._remote_candidates:
            if candidate._network_host == host and candidate.port == port:
                if candidate is not pair.remote_candidate:
                    return False
                break
        else:
            return False
        protocol = pair.protocol
        for other in connection._check_list:
            if other.protocol is protocol and other.remote_candidate is pair.remote_candidate:
                if other is not pair:
                    return False
                break
        else:
            return False
        if not nominating:
            return True
        if not (
            pair.nominated
            and pair.remote_nominated
            and pair.task is None
            and connection._check_list_done
            and len(connection._nominated) == len(connection._components)
        ):
            return False
        component = pair.component
        return not any(
            other.component == component and other.state in _UNCHECKED
            for other in connection._check_list
        )

    def _xor_mapped(self, host: str, port: int, transaction_id: bytes) -> bytes:
        """XOR-MAPPED-ADDRESS of ``(host, port)`` (RFC 8489 section 14.2)."""
        cached = self._mapped.get((host, port))
        if cached is None:
            if ":" in host:
                packed = socket.inet_pton(socket.AF_INET6, host)
                head = struct.pack("!HHBBH", _MAPPED, 20, 0, 2, port ^ (COOKIE >> 16))
                cached = (head, int.from_bytes(packed, "big"))
            else:
                packed = socket.inet_pton(socket.AF_INET, host)
                value = int.from_bytes(packed, "big") ^ COOKIE
                head = struct.pack("!HHBBHI", _MAPPED, 8, 0, 1, port ^ (COOKIE >> 16), value)
                cached = (head, -1)
            if len(self._mapped) >= MAX_CACHED_ADDRESSES:
                del self._mapped[next(iter(self._mapped))]
            self._mapped[(host, port)] = cached
        head, address = cached
        if address < 0:
            return head
        pad = int.from_bytes(_COOKIE_BYTES + transaction_id, "big")
        return head + (address ^ pad).to_bytes(16, "big")

    def _response(self, data: bytes, size: int, addr: Address, protocol: Any) -> bool:
        """A success response to one of our checks: consent is fresh (RFC 7675 section 5.1)."""
        transaction_id = data[8:20]
        pending = self._pending.get(transaction_id)
        if pending is None:
            return False  # not ours: aioice's transaction, or a stray it ignores
        _, sent_on, sent_to = pending
        if sent_on is not protocol or sent_to[0] != addr[0] or sent_to[1] != addr[1]:
            return False
        # what else the response carries is ignored, as aioice's transactions do
        parsed = _walk(data, size, strict=False)
        if parsed is None:
            return False
        remote_password = self.connection.remote_password
        if remote_password is None or not _authentic(data, parsed, remote_password.encode()):
            return False
        del self._pending[transaction_id]
        self.last_confirmed = time.monotonic()
        self.confirmed += 1
        return True

    # --- outgoing -----------------------------------------------------------------
    def start(self) -> None:
        """Take over aioice's consent task on a connected connection.

        Ours becomes ``connection._query_consent_task``, so ``Connection.close()``
        cancels it as it would have cancelled aioice's.
        """
        connection = self.connection
        if self._task is not None or connection._closing or not connection._nominated:
            return
        previous = connection._query_consent_task
        if previous is not None:
            previous.cancel()
        self.last_confirmed = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._run(previous))
        connection._query_consent_task = self._task

    async def _run(self, previous: asyncio.Task[None] | None) -> None:
        connection = self.connection
        if previous is not None:
            await asyncio.wait([previous])  # its CancelledError stays in it
        while True:
            await asyncio.sleep(CONSENT_INTERVAL_S * random.uniform(0.8, 1.2))
            if connection._closing:
                return
            now = time.monotonic()
            if now - self.last_confirmed > CONSENT_EXPIRY_S:
                self.expired = True
                log.info(
                    "ice consent expired",
                    connection=repr(connection),
                    unanswered_s=round(now - self.last_confirmed, 1),
                )
                connection._query_consent_task = None  # close() must not cancel us
                await connection.close()
                return
            self._forget(now)
            self._send_checks(now)

    def _forget(self, now: float) -> None:
        """Drop transaction ids older than the expiry (oldest first: insertion order)."""
        pending = self._pending
        horizon = now - CONSENT_EXPIRY_S
        while pending:
            oldest = next(iter(pending))
            if pending[oldest][0] >= horizon:
                break
            del pending[oldest]

    def _send_checks(self, now: float) -> None:
        connection = self.connection
        remote_password = connection.remote_password
        if remote_password is None:
            return
        key = remote_password.encode()
        username = f"{connection.remote_username}:{connection.local_username}".encode()
        for pair in list(connection._nominated.values()):
            transport = getattr(pair.protocol, "transport", None)
            if transport is None:
                continue
            transaction_id = os.urandom(12)
            request = self.check_request(pair, transaction_id, username, key)
            remote = pair.remote_addr
            self._pending[transaction_id] = (now, pair.protocol, remote)
            transport.sendto(request, remote)
            self.sent += 1

    def check_request(
        self, pair: CandidatePair, transaction_id: bytes, username: bytes, key: bytes
    ) -> bytes:
        """The Binding request aioice's ``build_request(pair, nominate=False)`` then
        ``add_message_integrity`` would send, byte for byte."""
        connection = self.connection
        padding = b"\x00" * (-len(username) & 3)
        role = _CONTROLLING if connection.ice_controlling else _CONTROLLED
        attributes = (
            _ATTRIBUTE.pack(_USERNAME, len(username))
            + username
            + padding
            + struct.pack("!HHI", _PRIORITY, 4, candidate_priority(pair.component, "prflx"))
            + struct.pack("!HHQ", role, 8, connection._tie_breaker)
        )
        return _signed(_BINDING_REQUEST, transaction_id, attributes, key)
