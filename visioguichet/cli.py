"""The ``visioguichet`` command: serve, migrate, create-agent, token."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import ipaddress
import signal
import sys
import time
from collections.abc import Sequence
from email.utils import parseaddr
from pathlib import Path

import structlog

from visioguichet.log_setup import configure_logging
from visioguichet.settings import (
    DEFAULT_HOST,
    DEFAULT_MAIL_FROM,
    DEFAULT_PORT,
    Settings,
    env_default,
)

log = structlog.get_logger(__name__)


def _port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected a port range like 40000-49999") from exc
    if not (1024 <= first <= last <= 65535):
        raise argparse.ArgumentTypeError("port range must lie within 1024-65535, low to high")
    return first, last


def _mail_from(text: str) -> str:
    """A ``From`` address a mail server accepts: one line, one ``local@domain``."""
    _, address = parseaddr(text)
    if not text.strip() or any(ord(c) < 32 or ord(c) == 127 for c in text) or (
        "@" not in address or address.startswith("@") or address.endswith("@")
    ):
        raise argparse.ArgumentTypeError(
            f"--mail-from must be an address like 'Name <no-reply@example.org>', got {text!r}"
        )
    return text.strip()


def _network(text: str) -> str:
    """An address or CIDR network, as ``--trusted-proxy`` takes."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address or CIDR network: {text!r}") from exc


def _trusted_proxies(flags: list[str] | None) -> tuple[str, ...]:
    """The ``--trusted-proxy`` flags, else ``VISIOGUICHET_TRUSTED_PROXY`` (comma-separated)."""
    if flags is None:
        entries = (env_default("trusted_proxy") or "").split(",")
        try:
            flags = [_network(entry) for entry in entries if entry.strip()]
        except argparse.ArgumentTypeError as exc:
            raise SystemExit(f"VISIOGUICHET_TRUSTED_PROXY: {exc}") from exc
    return tuple(dict.fromkeys(flags))


def _add_storage_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(env_default("data_dir", "data") or "data"),
        help="folder for the SQLite file, the outbox and keys (default: ./data)",
    )
    parser.add_argument(
        "--database-url",
        default=env_default("database_url"),
        help="postgresql://… to use PostgreSQL (default: SQLite in --data-dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visioguichet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the web app, booking API, signalling and SFU")
    _add_storage_args(serve)
    serve.add_argument("--host", default=env_default("host", DEFAULT_HOST))
    serve.add_argument(
        "--port", type=int, default=int(env_default("port", str(DEFAULT_PORT)) or DEFAULT_PORT)
    )
    serve.add_argument(
        "--public-base-url",
        default=env_default("public_base_url"),
        help="the address citizens use, for links in emails (default: http://HOST:PORT)",
    )
    serve.add_argument(
        "--smtp-url",
        default=env_default("smtp_url"),
        help="smtp://[user:pass@]host:port or smtps://…; unset: mail goes to DATA_DIR/outbox",
    )
    serve.add_argument(
        "--mail-from",
        type=_mail_from,
        default=_mail_from(env_default("mail_from", DEFAULT_MAIL_FROM) or DEFAULT_MAIL_FROM),
        help=f'sender of every mail, e.g. "CAF <ne-pas-repondre@caf.example>" '
        f"(default: {DEFAULT_MAIL_FROM})",
    )
    serve.add_argument(
        "--demo", action="store_true", help="seed a demo organisation, motifs and agent"
    )
    serve.add_argument(
        "--ice-address",
        action="append",
        default=[],
        metavar="ADDR",
        help="address to gather ICE host candidates on (repeatable); e.g. 127.0.0.1",
    )
    serve.add_argument(
        "--announced-address",
        default=env_default("announced_address"),
        help="public address written into ICE candidates when behind NAT",
    )
    serve.add_argument(
        "--udp-ports",
        type=_port_range,
        default=None,
        metavar="LOW-HIGH",
        help="UDP port range for media",
    )
    serve.add_argument(
        "--allow-remote-network",
        action="append",
        default=[],
        metavar="CIDR",
        help="only try remote ICE candidates in these networks (repeatable)",
    )
    serve.add_argument(
        "--stun", action="append", default=[], metavar="URL", help="STUN URL for clients"
    )
    serve.add_argument(
        "--turn", action="append", default=[], metavar="URL", help="TURN URL for clients"
    )
    serve.add_argument("--turn-username", default=env_default("turn_username"))
    serve.add_argument("--turn-password", default=env_default("turn_password"))
    serve.add_argument("--purge-after-days", type=int, default=90)
    serve.add_argument(
        "--public-booking-burst",
        type=int,
        default=int(env_default("public_booking_burst", "10") or 10),
        metavar="N",
        help="bookings one client may make without an account at once (0: no limit, "
        "for load tests); default 10",
    )
    serve.add_argument(
        "--public-booking-per-hour",
        type=float,
        default=float(env_default("public_booking_per_hour", "30") or 30),
        metavar="N",
        help="bookings per hour one client may make after the burst; default 30",
    )
    serve.add_argument(
        "--help-phone",
        default=env_default("help_phone"),
        help="phone number the call page offers when video cannot work",
    )
    serve.add_argument(
        "--trusted-proxy",
        action="append",
        type=_network,
        metavar="ADDR|CIDR",
        help="reverse proxy whose X-Forwarded-For names the client (repeatable; "
        "env: comma-separated)",
    )
    serve.add_argument(
        "--metrics-token",
        default=env_default("metrics_token"),
        help="bearer token /metrics requires; unset: /metrics answers loopback peers only",
    )
    serve.add_argument(
        "--log-format", choices=("console", "json"), default=env_default("log_format", "console")
    )
    serve.add_argument("--log-level", default=env_default("log_level", "info"))

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add_storage_args(migrate)

    agent = commands.add_parser("create-agent", help="create an agent account")
    _add_storage_args(agent)
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
    token.add_argument("--data-dir", type=Path, default=Path("data"))
    token.add_argument("--room", required=True)
    token.add_argument("--role", choices=("host", "guest", "observer"), required=True)
    token.add_argument("--subject", required=True)
    token.add_argument("--name", required=True)
    token.add_argument("--ttl", type=float, default=3600.0, help="seconds of validity")
    token.add_argument("--lobby", action="store_true", help="guest waits for a host to admit")
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    ports = args.udp_ports or (None, None)
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        database_url=args.database_url,
        public_base_url=args.public_base_url,
        smtp_url=args.smtp_url,
        mail_from=args.mail_from,
        demo=args.demo,
        log_format=args.log_format,
        log_level=args.log_level,
        ice_addresses=tuple(args.ice_address),
        announced_address=args.announced_address,
        udp_port_min=ports[0],
        udp_port_max=ports[1],
        allowed_remote_networks=tuple(args.allow_remote_network),
        stun_urls=tuple(args.stun),
        turn_urls=tuple(args.turn),
        turn_username=args.turn_username,
        turn_password=args.turn_password,
        purge_after_days=args.purge_after_days,
        public_booking_burst=args.public_booking_burst,
        public_booking_per_hour=args.public_booking_per_hour,
        help_phone=args.help_phone,
        trusted_proxies=_trusted_proxies(args.trusted_proxy),
        metrics_token=args.metrics_token or None,
    )


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
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
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


def run_event_loop(coro: object) -> None:
    """uvloop on the media path where available; plain asyncio elsewhere."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - non-Linux platforms
        asyncio.run(coro)  # type: ignore[arg-type]
    else:
        uvloop.run(coro)  # type: ignore[arg-type]


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise SystemExit("passwords differ")
    return first


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        settings = settings_from_args(args)
        configure_logging(fmt=settings.log_format, level=settings.log_level)
        run_event_loop(serve(settings))
        return 0
    configure_logging(fmt="console", level="warning")
    if args.command == "token":
        from visioguichet.join_token import load_or_create_signer

        signer = load_or_create_signer(args.data_dir / "join-token.key")
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

    settings = Settings(data_dir=args.data_dir, database_url=args.database_url)
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
