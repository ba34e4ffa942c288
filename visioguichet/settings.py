"""Service settings: one frozen object built from the command line and environment.

Defaults are the embedded ones a first-time user needs (SQLite in a data folder, one
process, mail to a local outbox); every production knob is a flag or a
``VISIOGUICHET_*`` environment variable so containers need no config file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
# The sender of every mail unless --mail-from says otherwise. A module constant, not read
# off the dataclass: with slots=True, ``Settings.mail_from`` is the slot descriptor.
DEFAULT_MAIL_FROM = "Visioguichet <no-reply@visioguichet.localhost>"


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = Path("data")
    database_url: str | None = None
    public_base_url: str | None = None
    smtp_url: str | None = None
    mail_from: str = DEFAULT_MAIL_FROM
    demo: bool = False
    log_format: str = "console"  # "console" in dev, "json" in production
    log_level: str = "info"
    ice_addresses: tuple[str, ...] = ()
    announced_address: str | None = None
    udp_port_min: int | None = None
    udp_port_max: int | None = None
    allowed_remote_networks: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_username: str | None = None
    turn_password: str | None = field(default=None, repr=False)
    purge_after_days: int = 90
    # Public bookings one client may make at once, then per hour; 0 switches it off.
    public_booking_burst: int = 10
    public_booking_per_hour: float = 30.0
    help_phone: str | None = None  # shown to citizens when video cannot work
    # Reverse proxies (addresses/CIDRs) whose X-Forwarded-For names the client; a
    # bearer token for /metrics (unset: /metrics answers loopback peers only).
    trusted_proxies: tuple[str, ...] = ()
    metrics_token: str | None = field(default=None, repr=False)

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
    def join_key_path(self) -> Path:
        return self.data_dir / "join-token.key"


def env_default(name: str, default: str | None = None) -> str | None:
    """``VISIOGUICHET_<NAME>`` from the environment, else ``default``."""
    return os.environ.get(f"VISIOGUICHET_{name.upper()}", default)
