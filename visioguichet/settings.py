"""Service settings, declared once: each field of ``Settings`` carries its flag, its
``VISIOGUICHET_<NAME>`` environment variable, its default, its help and its check.

The command line's options (``add_setting_options``) and the environment's values
(``settings_from``) are derived from these declarations, so a new knob is one field
here and nothing else. Defaults are the embedded ones a first-time user needs (SQLite
in a data folder, one process, mail to a local outbox); every production knob is a
flag or an environment variable, so containers need no config file.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import Field, dataclass, field, fields
from email.utils import parseaddr
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from booking_api import validation
from booking_api.operator_logo import LogoRefused, sanitised_logo
from booking_api.site_identity import MAX_NAME as MAX_OPERATOR_NAME
from booking_api.site_identity import MIN_CONTRAST, contrast_with_white
from booking_api.sms_gateway import DEFAULT_BODY_TEMPLATE, parse_body_template

ENV_PREFIX = "VISIOGUICHET_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# The sender of every mail unless --mail-from says otherwise. A module constant, not read
# off the dataclass: with slots=True, ``Settings.mail_from`` is the slot descriptor.
DEFAULT_MAIL_FROM = "Visioguichet <no-reply@visioguichet.localhost>"


# --- checks: each turns one flag's text into its value, or says what is wrong ----------


def parse_port(text: str) -> int:
    try:
        port = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from exc
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port lies within 0-65535, got {port}")
    return port


def parse_port_range(text: str) -> tuple[int, int]:
    low, sep, high = text.partition("-")
    try:
        first, last = int(low), int(high if sep else low)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected a port range like 40000-49999") from exc
    if not (1024 <= first <= last <= 65535):
        raise argparse.ArgumentTypeError("port range must lie within 1024-65535, low to high")
    return first, last


def parse_mail_from(text: str) -> str:
    """A ``From`` address a mail server accepts: one line, one ``local@domain``."""
    _, address = parseaddr(text)
    if (
        not text.strip()
        or any(ord(c) < 32 or ord(c) == 127 for c in text)
        or ("@" not in address or address.startswith("@") or address.endswith("@"))
    ):
        raise argparse.ArgumentTypeError(
            f"--mail-from must be an address like 'Name <no-reply@example.org>', got {text!r}"
        )
    return text.strip()


def parse_http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {text!r}")
    return text


def parse_sms_sender(text: str) -> str:
    """An alphanumeric sender: operators refuse longer ones or other characters."""
    if not 1 <= len(text) <= 11 or not text.isascii() or not text.isalnum():
        raise argparse.ArgumentTypeError(f"expected 1 to 11 letters or digits, got {text!r}")
    return text


def parse_sms_body_template(text: str) -> str:
    try:
        parse_body_template(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def parse_colour(text: str) -> str:
    """``#rrggbb`` dark enough for white text on it and for links on white (4.5:1)."""
    value = text.strip().lower()
    if not re.fullmatch(r"#[0-9a-f]{6}", value):
        raise argparse.ArgumentTypeError(f"expected a colour like #000091, got {text!r}")
    ratio = contrast_with_white(value)
    if ratio < MIN_CONTRAST:
        raise argparse.ArgumentTypeError(
            f"{value} has a contrast of {ratio:.1f}:1 with white; {MIN_CONTRAST}:1 is needed"
        )
    return value


def parse_operator_name(text: str) -> str:
    """One line as an administrator's name is checked: it goes into every page and mail."""
    try:
        value = validation.text(text, MAX_OPERATOR_NAME)
    except PydanticCustomError as exc:
        raise argparse.ArgumentTypeError(f"operator name: {exc.message()}") from exc
    if value is None:
        raise argparse.ArgumentTypeError("the operator's name cannot be empty")
    return value


def parse_logo(text: str) -> bytes:
    """A PNG, JPEG or WebP file, checked and re-encoded as the admin's upload is."""
    try:
        data = Path(text).read_bytes()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc.strerror}") from exc
    try:
        return sanitised_logo(data)
    except LogoRefused as exc:
        raise argparse.ArgumentTypeError(f"{text}: {exc.message}") from exc


def parse_network(text: str) -> str:
    """An address or CIDR network, as ``--trusted-proxy`` takes."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an IP address or CIDR network: {text!r}") from exc


def parse_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from exc
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def parse_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text!r}")
    return value


def parse_nodes(text: str) -> int:
    """``auto`` (one node per core this process may run on) or a count from 1."""
    if text.strip().lower() == "auto":
        return len(os.sched_getaffinity(0))
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected a number of nodes or auto, got {text!r}"
        ) from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected 1 node or more, got {value}")
    return value


def parse_switch(text: str) -> bool:
    """An environment variable's on/off (a flag on the command line is just present)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected 1/true/yes/on or 0/false/no/off, got {text!r}")


# --- the declaration ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Option:
    """How one setting reaches the command line and the environment."""

    help: str
    parse: Callable[[str], Any] = str
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    # repeatable: the flag may be given again; the environment variable is comma-separated
    repeatable: bool = False
    switch: bool = False  # a flag without a value (``--demo``)
    flag: str | None = None  # when it is not ``--<field-name>``
    env: str | None = None  # when it is not VISIOGUICHET_<FLAG>

    def flag_for(self, name: str) -> str:
        return self.flag or "--" + name.replace("_", "-")

    def env_for(self, name: str) -> str:
        return (
            self.env
            or ENV_PREFIX + self.flag_for(name).removeprefix("--").replace("-", "_").upper()
        )


def option(help: str, parse: Callable[[str], Any] = str, **how: Any) -> dict[str, Option]:
    """A ``Settings`` field's metadata: how it reaches the command line and environment."""
    return {"option": Option(help, parse, **how)}


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = field(default=DEFAULT_HOST, metadata=option("address to listen on"))
    port: int = field(default=DEFAULT_PORT, metadata=option("TCP port to listen on", parse_port))
    data_dir: Path = field(
        default=Path("data"),
        metadata=option("folder for the SQLite file, the outbox and keys", Path),
    )
    database_url: str | None = field(
        default=None,
        metadata=option("postgresql://… to use PostgreSQL (default: SQLite in --data-dir)"),
    )
    public_base_url: str | None = field(
        default=None,
        metadata=option(
            "the address citizens use, for links in emails (default: http://HOST:PORT)"
        ),
    )
    smtp_url: str | None = field(
        default=None,
        metadata=option(
            "smtp://[user:pass@]host:port or smtps://…; unset: mail goes to DATA_DIR/outbox"
        ),
    )
    mail_from: str = field(
        default=DEFAULT_MAIL_FROM,
        metadata=option(
            'sender of every mail, e.g. "CAF <ne-pas-repondre@caf.example>"', parse_mail_from
        ),
    )
    sms_gateway_url: str | None = field(
        default=None,
        metadata=option(
            "https://… of the operator's SMS API (POST JSON); unset: SMS go to DATA_DIR/outbox",
            parse_http_url,
        ),
    )
    sms_gateway_token: str | None = field(
        default=None, metadata=option("bearer token for the SMS API"), repr=False
    )
    sms_sender: str = field(
        default="Visioguichet",
        metadata=option(
            "sender name shown on phones (11 letters or digits at most)", parse_sms_sender
        ),
    )
    sms_body_template: str = field(
        default=DEFAULT_BODY_TEMPLATE,
        metadata=option(
            "JSON body of each SMS request; string values may use {to} {text} {sender}",
            parse_sms_body_template,
            metavar="JSON",
        ),
    )
    sms_reminder_before_min: int = field(
        default=60,
        metadata=option(
            "minutes before the start an SMS reminder goes out, besides the day before (0: none)",
            parse_count,
            metavar="MINUTES",
        ),
    )
    operator_name: str = field(
        default="Visioguichet",
        metadata=option(
            "the public body running this site, in every citizen page's header and in the "
            "mails, until an administrator sets it on /admin",
            parse_operator_name,
            metavar="NAME",
        ),
    )
    operator_colour: str | None = field(
        default=None,
        metadata=option(
            "the operator's colour for buttons and links (#rrggbb, 4.5:1 on white; default "
            "the State's blue #000091 under --state-marks, else #0b4fa3)",
            parse_colour,
            metavar="#RRGGBB",
        ),
    )
    operator_logo: bytes | None = field(
        default=None,
        metadata=option(
            "PNG, JPEG or WebP file of the operator's logo (512 kB, 1024 px a side; SVG "
            "refused), until an administrator uploads one",
            parse_logo,
            metavar="FILE",
        ),
        repr=False,
    )
    state_marks: bool = field(
        default=False,
        metadata=option(
            "the operator is a State administration entitled to the State's marks: the "
            "header shows the « République française » block",
            parse_switch,
            switch=True,
        ),
    )
    demo: bool = field(
        default=False,
        metadata=option("seed a demo organisation, motifs and agent", parse_switch, switch=True),
    )
    log_format: str = field(
        default="console",
        metadata=option("console in development, json in production", choices=("console", "json")),
    )
    log_level: str = field(default="info", metadata=option("debug, info, warning or error"))
    ice_addresses: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "address to gather ICE host candidates on, e.g. 127.0.0.1",
            metavar="ADDR",
            repeatable=True,
            flag="--ice-address",
        ),
    )
    announced_address: str | None = field(
        default=None, metadata=option("public address written into ICE candidates when behind NAT")
    )
    udp_ports: tuple[int, int] | None = field(
        default=None,
        metadata=option("UDP port range for media", parse_port_range, metavar="LOW-HIGH"),
    )
    allowed_remote_networks: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "only try remote ICE candidates in these networks",
            metavar="CIDR",
            repeatable=True,
            flag="--allow-remote-network",
        ),
    )
    stun_urls: tuple[str, ...] = field(
        default=(),
        metadata=option("STUN URL for clients", metavar="URL", repeatable=True, flag="--stun"),
    )
    turn_urls: tuple[str, ...] = field(
        default=(),
        metadata=option("TURN URL for clients", metavar="URL", repeatable=True, flag="--turn"),
    )
    turn_username: str | None = field(
        default=None, metadata=option("user name for the TURN server")
    )
    turn_password: str | None = field(
        default=None, metadata=option("password for the TURN server"), repr=False
    )
    purge_after_days: int = field(
        default=90,
        metadata=option(
            "days after a booking's end before its personal data is deleted",
            parse_count,
            metavar="DAYS",
        ),
    )
    public_booking_burst: int = field(
        default=10,
        metadata=option(
            "bookings one client may make without an account at once (0: no limit, for load tests)",
            parse_count,
            metavar="N",
        ),
    )
    public_booking_per_hour: float = field(
        default=30.0,
        metadata=option(
            "bookings per hour one client may make after the burst", parse_rate, metavar="N"
        ),
    )
    help_phone: str | None = field(
        default=None, metadata=option("phone number the call page offers when video cannot work")
    )
    trusted_proxies: tuple[str, ...] = field(
        default=(),
        metadata=option(
            "reverse proxy whose X-Forwarded-For names the client",
            parse_network,
            metavar="ADDR|CIDR",
            repeatable=True,
            flag="--trusted-proxy",
        ),
    )
    nodes: int = field(
        default=1,
        metadata=option(
            "node processes on this machine, one per core with auto; from 2, --redis-url "
            "and a PostgreSQL --database-url are needed",
            parse_nodes,
            metavar="N|auto",
        ),
    )
    reuse_port: bool = field(
        default=False,
        metadata=option(
            "share --port with other node processes (SO_REUSEPORT), as --nodes does; "
            "for nodes started otherwise, e.g. one systemd unit each",
            parse_switch,
            switch=True,
        ),
    )
    metrics_port: int | None = field(
        default=None,
        metadata=option(
            "a port of this node's own besides the shared one, for scraping /metrics "
            "node by node; under --nodes, node k listens on PORT+k-1",
            parse_port,
        ),
    )
    metrics_token: str | None = field(
        default=None,
        metadata=option(
            "bearer token /metrics requires; unset: /metrics answers loopback peers only"
        ),
        repr=False,
    )

    redis_url: str | None = field(
        default=None,
        metadata=option(
            "redis://HOST:PORT shared by the nodes: room placement and signalling relay "
            "(unset: this process is the only node)",
            metavar="URL",
        ),
        repr=False,
    )
    node_id: str | None = field(
        default=None,
        metadata=option(
            "this node's name among the nodes (default: host name and port)", metavar="NAME"
        ),
    )
    node_address: str | None = field(
        default=None,
        metadata=option(
            "where operators and other nodes reach this node's HTTP, published with its "
            "load (default: http://HOST:PORT)",
            metavar="URL",
        ),
    )
    drain_timeout: float = field(
        default=30.0,
        metadata=option(
            "with --redis-url: seconds a stopping node takes no new rooms and waits for "
            "its calls to end before it closes them (their participants rejoin elsewhere)",
            parse_rate,
            metavar="SECONDS",
        ),
    )

    @property
    def udp_port_min(self) -> int | None:
        return self.udp_ports[0] if self.udp_ports else None

    @property
    def udp_port_max(self) -> int | None:
        return self.udp_ports[1] if self.udp_ports else None

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'visioguichet.db').resolve()}"

    @property
    def resolved_public_base_url(self) -> str:
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_node_id(self) -> str:
        return self.node_id or f"{socket.gethostname()}:{self.port}"

    @property
    def resolved_node_address(self) -> str:
        if self.node_address:
            return self.node_address.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def join_key_path(self) -> Path:
        return self.data_dir / "join-token.key"


# --- what is derived from it ------------------------------------------------------------


def declared() -> dict[str, tuple[Field[Any], Option]]:
    """Every setting by field name, in declaration order."""
    return {f.name: (f, f.metadata["option"]) for f in fields(Settings)}


def _default_text(value: Any) -> str | None:
    if value in (None, (), False):
        return None
    return str(value)


def add_setting_options(
    parser: argparse.ArgumentParser, names: Iterable[str] | None = None
) -> None:
    """One option per setting (all, or those ``names``). Their defaults are left unset
    here, so ``settings_from`` can tell a flag given from the environment's value."""
    table = declared()
    for name in names if names is not None else table:
        field_, option = table[name]
        env = option.env_for(name)
        default = _default_text(field_.default)
        help_text = f"{option.help} (env {env}"
        help_text += f"; default {default})" if default else ")"
        if option.repeatable:
            help_text += "; repeatable, the variable comma-separated"
        kwargs: dict[str, Any] = {
            "dest": name,
            "default": None,
            "help": help_text.replace("%", "%%"),
        }
        if option.switch:
            kwargs["action"] = "store_const"
            kwargs["const"] = True
        else:
            kwargs["type"] = option.parse
            kwargs["metavar"] = option.metavar
            kwargs["choices"] = option.choices
            if option.repeatable:
                kwargs["action"] = "append"
        parser.add_argument(option.flag_for(name), **kwargs)


def settings_from(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """A flag given wins, else its ``VISIOGUICHET_*`` variable, else the declared default.

    Settings the parser did not offer (another command's) keep their defaults. A bad
    variable raises ``argparse.ArgumentTypeError`` naming it."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for name, (field_, option) in declared().items():
        if not hasattr(args, name):
            continue
        value = getattr(args, name)
        if value is None:
            value = _from_environment(name, option, env)
        if value is None:
            continue
        if option.repeatable:
            value = tuple(dict.fromkeys(value))
        elif value == "" and field_.default is None:
            value = None  # an empty flag or variable is an unset one
        values[name] = value
    return Settings(**values)


def _from_environment(name: str, option: Option, env: Mapping[str, str]) -> Any:
    variable = option.env_for(name)
    text = env.get(variable)
    if text is None:
        return None
    try:
        if option.repeatable:
            return [option.parse(entry.strip()) for entry in text.split(",") if entry.strip()]
        value = option.parse(text)
    except (argparse.ArgumentTypeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{variable}: {exc}") from exc
    if option.choices is not None and value not in option.choices:
        raise argparse.ArgumentTypeError(
            f"{variable}: {value!r} is not one of {', '.join(option.choices)}"
        )
    return value
