"""``python -m bench.call_server``: only the call path of our service, for the bench.

The same wiring as ``visioguichet serve`` for calls — ``sfu.Sfu`` behind
``signaling.SignalingServer`` at ``/ws``, join tokens from ``DATA_DIR/join-token.key``,
uvloop — without the booking side and the web pages. The capacity bench falls back to
it when the full service cannot start, and says so in its results; the media path it
measures is the same code.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

import signaling
from sfu import Sfu, SfuConfig
from visioguichet.join_token import (
    InvalidJoinToken,
    JoinGrant,
    JoinTokenVerifier,
    load_or_create_signer,
)


class _GrantVerifier:
    def __init__(self, verifier: JoinTokenVerifier) -> None:
        self._verifier = verifier

    def verify(self, token: object) -> JoinGrant:
        try:
            return self._verifier.verify(token)
        except InvalidJoinToken as exc:
            raise signaling.TokenRejected(exc.code, exc.message) from exc


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(data_dir: Path, ice_address: str, allowed_network: str) -> web.Application:
    data_dir.mkdir(parents=True, exist_ok=True)
    signer = load_or_create_signer(data_dir / "join-token.key")
    sfu = Sfu(SfuConfig(ice_addresses=(ice_address,), allowed_remote_networks=(allowed_network,)))
    server = signaling.SignalingServer(sfu, _GrantVerifier(signer.verifier))

    async def lifetime(_app: web.Application) -> AsyncIterator[None]:
        yield
        await server.close()
        await sfu.close()

    app = web.Application()
    app.cleanup_ctx.append(lifetime)
    app.router.add_get("/ws", server.handle)
    app.router.add_get("/healthz", _healthz)
    return app


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.call_server", description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ice-address", default="127.0.0.1")
    parser.add_argument("--allow-remote-network", default="127.0.0.0/8")
    args, _unknown = parser.parse_known_args()
    app = build_app(args.data_dir, args.ice_address, args.allow_remote_network)
    try:
        import uvloop

        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    except ImportError:
        loop = asyncio.new_event_loop()
    web.run_app(app, host=args.host, port=args.port, print=None, loop=loop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
