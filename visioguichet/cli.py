"""The ``visioguichet`` command: serve, migrate, create-agent, token."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import signal
import sys
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import structlog

from visioguichet.log_setup import configure_logging
from visioguichet.settings import Settings, add_setting_options, settings_from

log = structlog.get_logger(__name__)


STORAGE = ("data_dir", "database_url")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visioguichet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the web app, booking API, signalling and SFU",
        description="Every option also reads its VISIOGUICHET_* environment variable.",
    )
    add_setting_options(serve)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    add_setting_options(migrate, STORAGE)

    agent = commands.add_parser("create-agent", help="create an agent account")
    add_setting_options(agent, STORAGE)
    agent.add_argument("--email", required=True)
    agent.add_argument("--name", required=True)
    agent.add_argument("--role", choices=("agent", "admin", "partner"), default="agent")
    agent.add_argument("--organisation-id", default=None)
    agent.add_argument("--service-id", default=None)
    agent.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of prompting",
    )

    token = commands.add_parser(
        "token", help="print a signed join token (integrations, load tests)"
    )
    add_setting_options(token, ("data_dir",))
    token.add_argument("--room", required=True)
    token.add_argument("--role", choices=("host", "guest", "observer"), required=True)
    token.add_argument("--subject", required=True)
    token.add_argument("--name", required=True)
    token.add_argument("--ttl", type=float, default=3600.0, help="seconds of validity")
    token.add_argument("--lobby", action="store_true", help="guest waits for a host to admit")
    return parser


def settings_from_args(
    args: argparse.Namespace, parser: argparse.ArgumentParser | None = None
) -> Settings:
    """The settings a command was given; a bad environment variable ends it like a bad
    flag (status 2, the variable named)."""
    try:
        return settings_from(args)
    except argparse.ArgumentTypeError as exc:
        (parser or build_parser()).error(str(exc))


SHUTDOWN_TIMEOUT_S = 1.5


def settle_heap() -> None:
    """Take what start-up built (modules, the app) out of the garbage collector's sight.

    aiortc, PyAV and aiohttp leave tens of thousands of long-lived objects; each full
    collection would walk them all again (about 25 ms here), a few times a minute under
    media load. They live as long as the process, so they are frozen once, as CPython's
    ``gc.freeze`` documentation suggests for servers.
    """
    gc.collect()
    gc.freeze()


async def serve(settings: Settings) -> None:
    from aiohttp import web

    from visioguichet.app import build_app

    app = build_app(settings)
    # Open event streams (an agent's live queue) and call sockets would otherwise hold
    # a stop for aiohttp's default 60 s; calls end through the signalling server's close.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=settings.reuse_port or None)
    await site.start()
    if settings.metrics_port is not None:
        # Nodes sharing a port cannot be told apart there: each has one of its own.
        await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    settle_heap()
    log.info(
        "listening",
        url=settings.resolved_public_base_url,
        demo=settings.demo,
        data_dir=str(settings.data_dir),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("stopping")
    await runner.cleanup()


def run_event_loop(coro: Coroutine[Any, Any, None]) -> None:
    """uvloop on the media path where available; plain asyncio elsewhere."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux platforms
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise SystemExit("passwords differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = settings_from_args(args, parser)
    if args.command == "serve":
        configure_logging(fmt=settings.log_format, level=settings.log_level)
        if settings.nodes > 1:
            from visioguichet.nodes import run_nodes

            return run_nodes(settings, sys.argv[1:] if argv is None else list(argv))
        run_event_loop(serve(settings))
        return 0
    configure_logging(fmt="console", level="warning")
    if args.command == "token":
        from visioguichet.join_token import load_or_create_signer

        signer = load_or_create_signer(settings.join_key_path)
        print(
            signer.mint(
                room=args.room,
                role=args.role,
                subject=args.subject,
                name=args.name,
                expires_at=time.time() + args.ttl,
                lobby=args.lobby,
            )
        )
        return 0

    import booking_api
    from visioguichet.app import booking_config

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = booking_config(settings)
    if args.command == "migrate":
        asyncio.run(booking_api.migrate(config))
        print("database is up to date")
        return 0
    if args.command == "create-agent":
        password = _read_password(args.password_stdin)
        if len(password) < 10:
            print("error: password must have at least 10 characters", file=sys.stderr)
            return 2
        try:
            user_id = asyncio.run(
                booking_api.create_user(
                    config,
                    email=args.email,
                    password=password,
                    name=args.name,
                    role=args.role,
                    organisation_id=args.organisation_id,
                    service_id=args.service_id,
                )
            )
        except booking_api.AccountExists:
            print(f"error: an account with the email {args.email} already exists", file=sys.stderr)
            return 2
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"created {args.role} {args.email} (id {user_id})")
        return 0
    raise AssertionError(args.command)
