"""``serve --nodes N|auto``: one node process per core under one supervisor.

One Python interpreter runs on one core, so a machine with several cores runs several
nodes. Each node is a full ``serve`` (HTTP, WebSocket, SFU) started as a child
process: they share the HTTP port (``SO_REUSEPORT``: the kernel spreads connections),
each gets its own slice of ``--udp-ports``, its own node id and its own core. What two
nodes must agree on lives in PostgreSQL and Redis, hence both are required from two
nodes up. The supervisor only starts, restarts and stops nodes: it serves nothing, so
its own failure modes are few.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import structlog

from visioguichet.settings import Settings

log = structlog.get_logger(__name__)

# A node that dies is started again after a delay doubling from the first to the
# last; one that had lived STABLE_S starts again from the first delay.
RESTART_DELAY_FIRST_S = 0.5
RESTART_DELAY_MAX_S = 30.0
STABLE_S = 30.0
# After SIGTERM each node drains for --drain-timeout (no new rooms, rooms end or
# move) and then closes; past that and this grace the supervisor kills what remains,
# so a stop never hangs a deployment.
STOP_GRACE_S = 15.0
_PR_SET_PDEATHSIG = 1


class NodesMisconfigured(Exception):
    """Settings several nodes cannot run with; the message names the flag to fix."""


def check_cluster_settings(settings: Settings) -> None:
    """Several nodes share rooms through Redis and booking data through PostgreSQL:
    SQLite is one file one process writes, and in-memory state is one process's."""
    if settings.nodes < 2:
        return
    if not settings.redis_url:
        raise NodesMisconfigured(
            f"--nodes {settings.nodes} needs --redis-url (redis://host:port): "
            "several nodes share their rooms and signalling through Redis"
        )
    url = settings.database_url or ""
    if not url.startswith(("postgresql://", "postgres://")):
        raise NodesMisconfigured(
            f"--nodes {settings.nodes} needs a PostgreSQL --database-url "
            "(postgresql://user@host/db): several nodes cannot share one SQLite file"
        )


def split_udp_ports(ports: tuple[int, int] | None, count: int) -> list[tuple[int, int] | None]:
    """``count`` equal, disjoint slices of the range (the remainder stays unused)."""
    if ports is None:
        return [None] * count  # each node's sockets take ephemeral ports
    low, high = ports
    size = (high - low + 1) // count
    if size < 1:
        raise NodesMisconfigured(f"--udp-ports {low}-{high} holds fewer ports than --nodes {count}")
    return [(low + i * size, low + (i + 1) * size - 1) for i in range(count)]


@dataclass(frozen=True, slots=True)
class NodePlan:
    node_id: str
    cpu: int
    udp_ports: tuple[int, int] | None
    argv: tuple[str, ...]


def plan_nodes(settings: Settings, serve_argv: Sequence[str]) -> list[NodePlan]:
    """Each node's command line: the supervisor's own ``serve`` arguments, then what
    differs per node (argparse keeps the last value of a repeated option)."""
    cpus = sorted(os.sched_getaffinity(0))
    base = settings.node_id or socket.gethostname()
    plans = []
    for index, udp in enumerate(split_udp_ports(settings.udp_ports, settings.nodes)):
        node_id = f"{base}-{index + 1}"
        argv = [sys.executable, "-m", "visioguichet", *serve_argv]
        argv += ["--nodes", "1", "--node-id", node_id, "--reuse-port"]
        if udp is not None:
            argv += ["--udp-ports", f"{udp[0]}-{udp[1]}"]
        if settings.metrics_port is not None:
            argv += ["--metrics-port", str(settings.metrics_port + index)]
        plans.append(NodePlan(node_id, cpus[index % len(cpus)], udp, tuple(argv)))
    return plans


def _child_setup(cpu: int) -> Callable[[], None]:
    """Runs in the child before ``exec``: pinned to its core (threads started later
    inherit it), and ended by the kernel if the supervisor is killed outright."""

    def setup() -> None:
        os.sched_setaffinity(0, {cpu})
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return setup


class Supervisor:
    """Keeps every planned node running until told to stop, then drains them."""

    def __init__(self, plans: Sequence[NodePlan], drain_timeout_s: float):
        self._plans = list(plans)
        self._drain_timeout_s = drain_timeout_s
        self._stopping = asyncio.Event()
        self._live: dict[str, asyncio.subprocess.Process] = {}

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> int:
        keepers = [asyncio.create_task(self._keep(plan)) for plan in self._plans]
        await self._stopping.wait()
        log.info("nodes_draining", nodes=len(self._live))
        for process in list(self._live.values()):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        _done, pending = await asyncio.wait(keepers, timeout=self._drain_timeout_s)
        for node_id, process in list(self._live.items()):
            log.warning("node_killed_after_drain_timeout", node=node_id, pid=process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        if pending:
            await asyncio.wait(pending, timeout=5.0)
        log.info("nodes_stopped")
        return 0

    async def _keep(self, plan: NodePlan) -> None:
        delay = RESTART_DELAY_FIRST_S
        while not self._stopping.is_set():
            started = time.monotonic()
            process = await asyncio.create_subprocess_exec(
                *plan.argv, preexec_fn=_child_setup(plan.cpu)
            )
            self._live[plan.node_id] = process
            if self._stopping.is_set():  # started while the others were told to stop
                process.send_signal(signal.SIGTERM)
            log.info(
                "node_started",
                node=plan.node_id,
                pid=process.pid,
                cpu=plan.cpu,
                udp_ports=plan.udp_ports and f"{plan.udp_ports[0]}-{plan.udp_ports[1]}",
            )
            code = await process.wait()
            del self._live[plan.node_id]
            if self._stopping.is_set():
                log.info("node_stopped", node=plan.node_id, code=code)
                return
            lived = time.monotonic() - started
            delay = RESTART_DELAY_FIRST_S if lived >= STABLE_S else delay
            log.error(
                "node_exited",
                node=plan.node_id,
                code=code,
                lived_s=round(lived, 1),
                restart_in_s=delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, RESTART_DELAY_MAX_S)


class RedisUnreachable(Exception):
    """``--redis-url`` names no Redis that answers."""


async def _check_redis(url: str) -> None:
    """Every node would fail on its own and be restarted over and over: say it once."""
    from redis import asyncio as aioredis
    from redis.exceptions import RedisError

    client = aioredis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        await client.ping()
    except (RedisError, OSError, ValueError) as exc:
        where = urlsplit(url)  # no password in the message
        raise RedisUnreachable(
            f"cannot reach Redis at {where.hostname}:{where.port or 6379}: {exc}"
        ) from exc
    finally:
        await client.aclose()


async def _prepare_shared_state(settings: Settings) -> None:
    """What the nodes would otherwise race to create: the join-token key (every node
    must verify every other's tokens) and the database schema."""
    import booking_api
    from visioguichet.app import booking_config
    from visioguichet.join_token import load_or_create_signer

    if settings.redis_url:
        await _check_redis(settings.redis_url)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_signer(settings.join_key_path)
    await booking_api.migrate(booking_config(settings))


async def supervise(settings: Settings, serve_argv: Sequence[str]) -> int:
    await _prepare_shared_state(settings)
    supervisor = Supervisor(plan_nodes(settings, serve_argv), settings.drain_timeout + STOP_GRACE_S)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, supervisor.stop)
    log.info("nodes_starting", nodes=settings.nodes, port=settings.port)
    return await supervisor.run()


def run_nodes(settings: Settings, serve_argv: Sequence[str]) -> int:
    """The supervisor's whole life; its exit status (2: settings several nodes cannot
    run with, said in one sentence)."""
    try:
        check_cluster_settings(settings)
        split_udp_ports(settings.udp_ports, settings.nodes)
        if settings.metrics_port is not None and settings.metrics_port + settings.nodes > 65536:
            raise NodesMisconfigured(
                f"--metrics-port {settings.metrics_port} leaves no room for {settings.nodes} ports"
            )
    except NodesMisconfigured as exc:
        print(f"visioguichet serve: error: {exc}", file=sys.stderr)
        return 2
    from booking_api.db import DatabaseUnavailable

    try:
        return asyncio.run(supervise(settings, serve_argv))
    except DatabaseUnavailable as exc:
        print(f"visioguichet serve: error: --database-url: {exc}", file=sys.stderr)
        return 2
    except RedisUnreachable as exc:
        print(f"visioguichet serve: error: --redis-url: {exc}", file=sys.stderr)
        return 2
