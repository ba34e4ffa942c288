"""Settings the composition hands to the booking application."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from booking_api.client_address import parse_networks
from booking_api.sms_gateway import DEFAULT_BODY_TEMPLATE, parse_body_template

DEFAULT_UPLOAD_MAX_BYTES = 10 * 1024 * 1024
# A call's paperwork (identity, proofs of address and income, a form or two) fits in
# 20 documents; 50 MB is five documents at the upload limit, or some twenty phone photos.
DEFAULT_BOOKING_FILES_MAX_COUNT = 20
DEFAULT_BOOKING_FILES_MAX_BYTES = 50 * 1024 * 1024


@dataclass
class BookingConfig:
    """Where booking keeps its data and how it reaches people.

    ``database_url`` defaults to ``sqlite:///<data_dir>/visioguichet.db``; a
    ``postgresql://`` URL selects PostgreSQL. ``smtp_url`` is ``smtp://[user:pass@]host:port``
    or ``smtps://...`` (TLS); ``None`` writes each mail as an ``.eml`` file to
    ``data_dir/outbox/`` instead.
    """

    database_url: str = ""
    data_dir: Path = Path("data")
    public_base_url: str = "http://127.0.0.1:8080"
    smtp_url: str | None = None
    mail_from: str = "Visioguichet <ne-pas-repondre@visioguichet.localhost>"
    purge_after_days: int = 90
    demo: bool = False
    upload_max_bytes: int = DEFAULT_UPLOAD_MAX_BYTES
    # Documents one booking may hold: how many, and their total size in bytes.
    booking_files_max_count: int = DEFAULT_BOOKING_FILES_MAX_COUNT
    booking_files_max_bytes: int = DEFAULT_BOOKING_FILES_MAX_BYTES
    # First retry delay of the outbox sender; doubles on each failure up to the maximum.
    mail_retry_base_s: float = 2.0
    mail_retry_max_s: float = 300.0
    # After this many failed tries (about 1 h 40 min with the delays above) a mail is
    # marked failed instead of retried for ever; a permanent SMTP refusal marks it at once.
    mail_max_attempts: int = 25
    # Public bookings one client may make at once, then per hour (booking_rate_limit
    # says why); a burst of 0 switches the limit off (load tests).
    public_booking_burst: int = 10
    public_booking_per_hour: float = 30.0
    # An instant-call request whose waiting page has not asked for its status for this
    # long is out of the agents' queue (the page polls every 2 s); it is back if the
    # page asks again.
    queue_stale_after_s: float = 10.0
    # How often background work (outbox, reminders, purge) looks for due items.
    worker_poll_s: float = 1.0
    # Sign-in guessing limits (booking_api.login_throttle says why these numbers):
    # failures per (account, client) and per client within the window lock that key;
    # past the account-wide threshold each attempt waits 1 s, doubling, up to the cap.
    login_max_failures: int = 5
    login_client_max_failures: int = 20
    login_account_max_failures: int = 20
    login_account_backoff_max_s: float = 30.0
    login_window_s: float = 300.0
    # SMS to citizens who gave a mobile number and no email (booking_api.sms_gateway):
    # the operator's HTTP API, its bearer token, the sender name shown on phones and the
    # JSON body; without a URL each SMS is written as an ``.sms`` file to the outbox folder.
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    sms_sender: str = "Visioguichet"
    sms_body_template: str = DEFAULT_BODY_TEMPLATE
    # Besides the day-before reminder, an SMS this many minutes before the start (0: none).
    sms_reminder_before_min: int = 60
    # Peers (addresses or CIDRs) whose X-Forwarded-For names the client: the reverse
    # proxies in front of the service. Nobody else's header is believed.
    trusted_proxies: tuple[str, ...] = ()
    # The operator shown on citizen pages and in mails until an administrator sets its
    # own (booking_api.site_identity): name, colour (#rrggbb, 4.5:1 on white; None: the
    # State's blue for an operator entitled to the State's marks, else our own), logo as
    # a sanitised PNG, and whether it may show the State's marks.
    operator_name: str = "Visioguichet"
    operator_colour: str | None = None
    operator_logo_png: bytes | None = None
    state_marks: bool = False

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir}/visioguichet.db"
        self.public_base_url = self.public_base_url.rstrip("/")
        self.trusted_proxies = tuple(self.trusted_proxies)
        parse_networks(self.trusted_proxies)  # a typo fails at start, not at first login
        parse_body_template(self.sms_body_template)  # likewise, not at the first SMS

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
