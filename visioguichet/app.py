"""Wires the parts into one aiohttp application: booking REST under ``/api``,
signalling at ``/ws``, the web pages, ``/metrics`` and ``/healthz``.

This is the only module that sees ``sfu``, ``signaling`` and ``booking_api`` together;
``pages`` serves ``web``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

import booking_api
import signaling
from sfu import Sfu, SfuConfig
from visioguichet.call_events import CallEventBridge
from visioguichet.http_security import check_metrics_access, security_headers
from visioguichet.join_admission import wire_join_admission
from visioguichet.join_timing import JoinTimer
from visioguichet.join_token import (
    InvalidJoinToken,
    JoinGrant,
    JoinTokenVerifier,
    load_or_create_signer,
)
from visioguichet.loop_lag import LoopLagProbe
from visioguichet.metrics import CONTENT_TYPE, ServiceMetrics
from visioguichet.operator_pages import OperatorPages, load_measure
from visioguichet.pages import add_web_pages
from visioguichet.settings import Settings

log = structlog.get_logger(__name__)

SFU_KEY = web.AppKey("sfu", Sfu)
SIGNALING_KEY = web.AppKey("signaling", signaling.SignalingServer)
BOOKING_APP_KEY = web.AppKey("booking_app", web.Application)
SETTINGS_KEY = web.AppKey("settings", Settings)
METRICS_KEY = web.AppKey("metrics", ServiceMetrics)


class GrantVerifier:
    """Adapts the join-token verifier to signalling's ``TokenVerifier`` protocol."""

    def __init__(self, verifier: JoinTokenVerifier) -> None:
        self._verifier = verifier

    def verify(self, token: object) -> JoinGrant:
        try:
            return self._verifier.verify(token)
        except InvalidJoinToken as exc:
            raise signaling.TokenRejected(exc.code, exc.message, not_before=exc.not_before) from exc


def sfu_config(settings: Settings) -> SfuConfig:
    return SfuConfig(
        ice_addresses=settings.ice_addresses,
        announced_address=settings.announced_address,
        udp_port_min=settings.udp_port_min,
        udp_port_max=settings.udp_port_max,
        allowed_remote_networks=settings.allowed_remote_networks,
    )


def client_ice_servers(settings: Settings) -> list[dict[str, object]]:
    """What browsers are told to use: our STUN/TURN (coturn), never a public default."""
    servers: list[dict[str, object]] = []
    if settings.stun_urls:
        servers.append({"urls": list(settings.stun_urls)})
    if settings.turn_urls:
        servers.append(
            {
                "urls": list(settings.turn_urls),
                "username": settings.turn_username or "",
                "credential": settings.turn_password or "",
            }
        )
    return servers


def node_cluster(settings: Settings) -> signaling.Cluster | None:
    """With ``--redis-url`` this process is one node among several; without, the only one."""
    if not settings.redis_url:
        return None
    return signaling.Cluster(
        settings.redis_url,
        node_id=settings.resolved_node_id,
        address=settings.resolved_node_address,
    )


def booking_config(settings: Settings) -> booking_api.BookingConfig:
    return booking_api.BookingConfig(
        database_url=settings.resolved_database_url,
        data_dir=settings.data_dir,
        public_base_url=settings.resolved_public_base_url,
        smtp_url=settings.smtp_url,
        mail_from=settings.mail_from,
        purge_after_days=settings.purge_after_days,
        public_booking_burst=settings.public_booking_burst,
        public_booking_per_hour=settings.public_booking_per_hour,
        demo=settings.demo,
        trusted_proxies=settings.trusted_proxies,
        sms_gateway_url=settings.sms_gateway_url,
        sms_gateway_token=settings.sms_gateway_token,
        sms_sender=settings.sms_sender,
        sms_body_template=settings.sms_body_template,
        sms_reminder_before_min=settings.sms_reminder_before_min,
        operator_name=settings.operator_name,
        operator_colour=settings.operator_colour,
        operator_logo_png=settings.operator_logo,
        state_marks=settings.state_marks,
    )


async def metrics(request: web.Request) -> web.Response:
    check_metrics_access(request, request.app[SETTINGS_KEY].metrics_token)
    return web.Response(
        text=request.app[METRICS_KEY].render(),
        headers={"Content-Type": CONTENT_TYPE, "X-Prometheus-Format": "0.0.4"},
    )


async def client_config(request: web.Request) -> web.Response:
    """What the pages need to know about this deployment (no secrets)."""
    return web.json_response({"help_phone": request.app[SETTINGS_KEY].help_phone})


async def short_link(request: web.Request) -> web.Response:
    """SMS carry ``/j/{code}``, short; the booking service resolves it under ``/api``."""
    raise web.HTTPTemporaryRedirect(f"/api/j/{request.match_info['code']}")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(settings: Settings) -> web.Application:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signer = load_or_create_signer(settings.join_key_path)
    sfu = Sfu(sfu_config(settings))
    booking_app = booking_api.create_app(booking_config(settings), signer)
    service_metrics = ServiceMetrics(node=settings.node_id)
    join_timer = JoinTimer(service_metrics.join_seconds.observe)
    loop_lag = LoopLagProbe(service_metrics.loop_lag_seconds.observe)
    bridge = CallEventBridge(
        booking_app[booking_api.CALL_EVENTS], observers=[join_timer.observe_event]
    )
    cluster = node_cluster(settings)
    signaling_server = signaling.SignalingServer(
        sfu,
        GrantVerifier(signer.verifier),
        listener=bridge,
        config=signaling.SignalingConfig(ice_servers=client_ice_servers(settings)),
        cluster=cluster,
    )
    wire_join_admission(booking_app[booking_api.JOIN_GATE], signaling_server)
    if signaling_server.admission is not None:
        signaling_server.admission = join_timer.timed(signaling_server.admission)
    service_metrics.read_parts_from(
        lambda: {"sfu": sfu.stats(), "signaling": signaling_server.stats()}
    )

    app = web.Application(middlewares=[security_headers])
    app[SETTINGS_KEY] = settings
    app[SFU_KEY] = sfu
    app[SIGNALING_KEY] = signaling_server
    app[BOOKING_APP_KEY] = booking_app
    app[METRICS_KEY] = service_metrics

    async def media_lifetime(_app: web.Application) -> AsyncIterator[None]:
        if cluster is not None:
            try:
                await cluster.start()
            except signaling.ClusterUnavailable as exc:
                raise SystemExit(f"visioguichet: --redis-url: {exc}") from exc
        loop_lag.start()
        yield
        await loop_lag.close()
        await signaling_server.close()
        await sfu.close()
        if cluster is not None:
            await cluster.close()

    async def drain(_app: web.Application) -> None:
        """A stopping node takes no new room and lets its calls end, for a while."""
        if cluster is not None and settings.drain_timeout > 0:
            cluster.drain()
            await cluster.wait_drained(settings.drain_timeout)

    app.on_shutdown.append(drain)

    app.cleanup_ctx.append(media_lifetime)
    app.router.add_get("/ws", signaling_server.handle)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/client-config", client_config)
    app.router.add_get("/j/{code:[A-Za-z0-9]{1,32}}", short_link)
    operator_pages = OperatorPages(booking_app[booking_api.OPERATOR_SITE], load_measure())
    app.router.add_get("/site.css", operator_pages.stylesheet)
    add_web_pages(app, operator_pages)
    app.add_subapp("/api", booking_app)
    return app
