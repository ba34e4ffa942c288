"""A real signalling server (aiohttp on 127.0.0.1) in front of a real in-process SFU."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from visioguichet.join_token import (
    InvalidJoinToken,
    JoinGrant,
    JoinTokenSigner,
    JoinTokenVerifier,
    Role,
)

try:
    import signaling
    from sfu import Sfu, SfuConfig
    from signaling.client import SignalingClient
except (ImportError, AttributeError):
    # Without a usable ``sfu`` package nothing here can be collected; rather than
    # abort the whole suite with a collection error, only the prerequisite test runs
    # (and fails, saying why).
    collect_ignore_glob = ["test_[!p]*.py"]


class JoinTokenAdapter:
    """The same adaptation the composition makes: join-token errors → TokenRejected."""

    def __init__(self, verifier: JoinTokenVerifier) -> None:
        self._verifier = verifier

    def verify(self, token: object) -> JoinGrant:
        try:
            return self._verifier.verify(token)
        except InvalidJoinToken as exc:
            raise signaling.TokenRejected(exc.code, exc.message, not_before=exc.not_before) from exc


@dataclass
class RecordingListener:
    events: list[signaling.CallEvent] = field(default_factory=list)

    async def on_call_event(self, event: signaling.CallEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


class Grant(TypedDict, total=False):
    """What a test's join token grants: ``SignalingHarness.mint``'s keywords."""

    room: str
    role: Role
    subject: str
    name: str
    ttl_s: float
    lobby: bool


@dataclass
class SignalingHarness:
    server: signaling.SignalingServer
    sfu: Sfu
    signer: JoinTokenSigner
    listener: RecordingListener
    ws_url: str
    clients: list[SignalingClient] = field(default_factory=list)

    def mint(
        self,
        *,
        room: str = "room-1",
        role: Role = "host",
        subject: str = "agent-1",
        name: str = "Claire Martin",
        ttl_s: float = 600.0,
        lobby: bool = False,
    ) -> str:
        return self.signer.mint(
            room=room,
            role=role,
            subject=subject,
            name=name,
            expires_at=time.time() + ttl_s,
            lobby=lobby,
        )

    async def client(self, **kwargs: Any) -> SignalingClient:
        client = SignalingClient(self.ws_url, ice_addresses=("127.0.0.1",), **kwargs)
        await client.connect()
        self.clients.append(client)
        return client

    async def joined(self, **token: Unpack[Grant]) -> SignalingClient:
        client = await self.client()
        reply = await client.join(self.mint(**token))
        assert reply["type"] == "joined", reply
        return client


HarnessFactory = Callable[..., Awaitable[SignalingHarness]]


@pytest.fixture
async def make_harness() -> AsyncIterator[HarnessFactory]:
    made: list[tuple[SignalingHarness, TestServer]] = []

    async def make(config: signaling.SignalingConfig | None = None) -> SignalingHarness:
        signer = JoinTokenSigner(Ed25519PrivateKey.generate())
        sfu = Sfu(SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",)))
        listener = RecordingListener()
        server = signaling.SignalingServer(
            sfu,
            JoinTokenAdapter(signer.verifier),
            listener=listener,
            config=config or signaling.SignalingConfig(),
        )
        app = web.Application()
        app.router.add_get("/ws", server.handle)
        test_server = TestServer(app, host="127.0.0.1")
        await test_server.start_server()
        url = str(test_server.make_url("/ws")).replace("http://", "ws://", 1)
        harness = SignalingHarness(server, sfu, signer, listener, url)
        made.append((harness, test_server))
        return harness

    yield make
    for harness, test_server in made:
        for client in harness.clients:
            await client.close()
        await harness.server.close()
        await harness.sfu.close()
        await test_server.close()


@pytest.fixture
async def harness(make_harness: HarnessFactory) -> SignalingHarness:
    return await make_harness()
