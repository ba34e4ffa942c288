"""A host candidate's socket read with ``recvmmsg`` in C instead of the loop's transport."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from sfu._datapath import Reader


class NativeDatagramTransport(asyncio.DatagramTransport):
    """A host candidate's socket, read by ``Reader`` (recvmmsg in C) on readiness.

    The event loop's own UDP transport makes a system call, a bytes object and an
    address tuple per datagram, and one more call to find the socket empty; this one
    drains every waiting datagram with one call and passes RTP to the connection's
    native ingress without Python objects. Sending is a plain non-blocking ``sendto``:
    a datagram that does not fit the socket buffer is dropped, as the network would.
    """

    def __init__(self, sock: socket.socket, protocol: Any) -> None:
        super().__init__()
        self._loop = asyncio.get_running_loop()
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._closing = False
        self._extra = {"socket": sock, "sockname": sock.getsockname(), "peername": None}
        self.reader = Reader(self._fd, protocol)
        self._loop.add_reader(self._fd, self.reader)

    def sendto(self, data: Any, addr: Any = None) -> None:
        if self._closing:
            return
        try:
            self._sock.sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            pass  # the socket buffer is full: lost, as on a congested link
        except OSError as exc:
            self._protocol.error_received(exc)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def get_protocol(self) -> Any:
        return self._protocol

    def set_protocol(self, protocol: Any) -> None:
        self._protocol = protocol
        self.reader.close()
        self.reader = Reader(self._fd, protocol)
        if not self._closing:
            self._loop.add_reader(self._fd, self.reader)

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.remove_reader(self._fd)
        self.reader.close()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        self.close()


def read_natively(protocol: Any) -> None:
    """Move a host candidate's socket from the event loop's UDP transport to ours.

    The socket is duplicated, the loop's transport closed (its protocol swapped for a
    blank one first, so aioice never hears of it) and ours made the protocol's
    transport: the candidate, its address and what waits in the socket stay the same.
    """
    transport = getattr(protocol, "transport", None)
    candidate = getattr(protocol, "local_candidate", None)
    if transport is None or isinstance(transport, NativeDatagramTransport):
        return
    if candidate is None or candidate.type != "host":
        return
    sock = transport.get_extra_info("socket")
    if sock is None:
        return
    native = socket.socket(fileno=os.dup(sock.fileno()))
    native.setblocking(False)
    transport.set_protocol(asyncio.DatagramProtocol())
    transport.close()
    protocol.connection_made(NativeDatagramTransport(native, protocol))
