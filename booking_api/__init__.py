"""Booking: what can be booked, free slots, appointments, mails, staff accounts.

Interface used by the composition (it imports nothing else from this package)::

    config = BookingConfig(database_url=..., data_dir=Path(...), public_base_url=...,
                           smtp_url=None, mail_from=..., purge_after_days=90, demo=True,
                           upload_max_bytes=10 * 1024 * 1024)
    booking_app = create_app(config, join_tokens)   # join_tokens: JoinTokenIssuer
    app.add_subapp("/api", booking_app)               # routes are relative to /api
    sink = booking_app[CALL_EVENTS]                   # CallEventSink
    await sink.record(room, kind, at, data)           # room = booking id
    gate = booking_app[JOIN_GATE]                     # JoinGate
    await gate.refusal(room, role)                    # None, or JoinRefusal(code, message,
                                                      #   not_before) for signalling's error
    gate.end_live_calls_with(calls)                   # LiveCalls: ends a cancelled or
                                                      #   closed booking's live call
    site = booking_app[OPERATOR_SITE]                 # OperatorSite: the operator's
    await site.identity()                             #   SiteIdentity (name, colour,
    await site.legal_page(slug, measure)              #   logo…); (title, safe HTML) of
                                                      #   a page of LEGAL_PAGES
    await migrate(config)                             # `visioguichet migrate`
    await create_user(config, email=..., password=..., name=..., role="agent",
                      organisation_id=None, service_id=None)  # `create-agent`
    # raises AccountExists (a ValueError) if the email is taken, ValueError if the
    # role or service is unknown

``create_app`` opens the database, applies migrations, seeds demo data when
``config.demo`` and runs the outbox sender, all inside the app's ``cleanup_ctx``.
Join links are ``{public_base_url}/call#token=<join token>`` (room = booking id; the
citizen is ``guest`` with ``lobby=True``, the agent ``host``; valid from 15 minutes
(guest) or 30 minutes (host) before the slot to 2 hours after its end); manage links are
``{public_base_url}/manage#token=<manage token>``. The REST API is described at
``GET /api/openapi.json``, generated from the models every request is read through
(``api_requests``) and those of the answers (``api_responses``). An error is
``{"error": code, "message", "fields": {path: French message}, "field_errors": [{"field",
"code", "message"}]}``: the pages translate ``code``.

Demo data (``--demo``): agent ``agent@demo.visioguichet.fr``, password
``demo-agent-2026`` (public, for demonstrations only).
"""

from booking_api.app import (
    CALL_EVENTS,
    JOIN_GATE,
    OPERATOR_SITE,
    create_app,
    create_user,
    migrate,
)
from booking_api.auth import AccountExists
from booking_api.config import BookingConfig
from booking_api.interfaces import CallEventSink, JoinTokenIssuer, LiveCalls
from booking_api.join_gate import JoinGate, JoinRefusal
from booking_api.operator_logo import LogoRefused, sanitised_logo
from booking_api.operator_site import LEGAL_PAGES, OperatorSite
from booking_api.site_identity import SiteIdentity

__all__ = [
    "CALL_EVENTS",
    "JOIN_GATE",
    "LEGAL_PAGES",
    "OPERATOR_SITE",
    "AccountExists",
    "BookingConfig",
    "CallEventSink",
    "JoinGate",
    "JoinRefusal",
    "JoinTokenIssuer",
    "LiveCalls",
    "LogoRefused",
    "OperatorSite",
    "SiteIdentity",
    "create_app",
    "create_user",
    "migrate",
    "sanitised_logo",
]
