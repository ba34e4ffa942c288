"""Several nodes on one Redis: who is alive, how loaded, and which node holds a room.

A node is a full server process. It publishes itself every ``HEARTBEAT_S`` under a key
that lives ``NODE_TTL_S``: a node that stops refreshing (``kill -9``, a frozen machine)
drops out within that time, with nobody to run a consensus. A node also counts as dead
the moment its relay subscription is gone from Redis (``PUBSUB NUMSUB``), which the
kernel closes at once when the process dies: that turns a 3 s TTL into a sub-second
verdict for the common crash.

A room is placed when its first participant joins: one Lua script reads the room's
key and, unless its node is alive, sets it to the live, non-draining node with the
most headroom and counts it there, so two joins racing for one room agree. The room's
node refreshes the key while the room is open (``ROOM_TTL_S``); a node that died
leaves keys that the next join replaces.

Keys (prefix ``vg:`` by default, so one Redis can serve several deployments):
``node:<id>`` (JSON: address, load, draining; TTL), ``nodes`` (set of ids ever seen,
pruned by placement), ``room:<id>`` (node id; TTL), ``noderooms:<id>`` (rooms placed on
a node: its placement score), ``relay:<id>`` (the node's relay channel, ``relay.py``).

Redis being away never ends a call: media does not touch it; placement fails with
``ClusterUnavailable`` (a join is refused, the client retries) and no node is judged
dead on missing evidence, nor for ``OUTAGE_GRACE_S`` after Redis comes back (its keys
come back with the next heartbeats); a peer is lost when two checks in a row
(``WATCH_S`` apart) find it dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from signaling.relay import RelayBus, RelayListener

log = structlog.get_logger(__name__)

HEARTBEAT_S = 1.0
NODE_TTL_S = 3.0
ROOM_TTL_S = 10.0
WATCH_S = 0.5  # how often the peers of relayed connections are checked
OUTAGE_GRACE_S = 5.0
CONNECT_TIMEOUT_S = 2.0
# Placement score = rooms placed + PARTICIPANT_WEIGHT * participants + the CPU term: a
# node busier than CPU_FREE of a core counts CPU_ROOMS rooms per core above it, so a
# node loaded by something rooms do not show (one big room, a neighbour process) gets
# fewer, while the CPU noise of nodes with room to spare (a join burst, the second
# after start) does not unbalance the room count.
PARTICIPANT_WEIGHT = 0.25
CPU_FREE = 0.5
CPU_ROOMS = 20.0
CPU_SMOOTHING = 0.2  # per heartbeat: a spike of one second weighs a fifth, a steady load all

_PLACE = """
local cur = redis.call('GET', KEYS[1])
local n_alive = tonumber(ARGV[4])
if cur then
  for i = 1, n_alive do
    if ARGV[4 + i] == cur then
      return cur
    end
  end
end
local best, best_score = nil, nil
local i = 5 + n_alive
while i < #ARGV do
  local id = ARGV[i]
  local score = redis.call('SCARD', ARGV[3] .. 'noderooms:' .. id) + tonumber(ARGV[i + 1])
  if best == nil or score < best_score then
    best, best_score = id, score
  end
  i = i + 2
end
if best == nil then
  return false
end
if cur then
  redis.call('SREM', ARGV[3] .. 'noderooms:' .. cur, ARGV[1])
end
redis.call('SET', KEYS[1], best, 'PX', ARGV[2])
redis.call('SADD', ARGV[3] .. 'noderooms:' .. best, ARGV[1])
return best
"""

_HOLD = """
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[3])
  return 1
end
return 0
"""


class ClusterUnavailable(Exception):
    """Redis cannot be reached, or no live node takes rooms: nothing can be placed."""


@dataclass(frozen=True, slots=True)
class NodeLoad:
    rooms: int = 0
    participants: int = 0
    packets_per_s: float = 0.0  # RTP packets the SFU forwarded, per second
    cpu: float = 0.0  # fraction of one core this process uses, averaged over ~5 s


@dataclass(frozen=True, slots=True)
class LocalCounts:
    """What the signalling server counts; the cluster turns it into a ``NodeLoad``."""

    rooms: int = 0
    participants: int = 0
    packets_forwarded: int = 0  # running total of the SFU's forwarded packets


@dataclass(frozen=True, slots=True)
class NodeInfo:
    node_id: str
    address: str
    load: NodeLoad
    draining: bool
    alive: bool

    def extra_score(self) -> float:
        """The placement score beyond the rooms placed (those are counted in Redis)."""
        busy = max(0.0, self.load.cpu - CPU_FREE) * CPU_ROOMS
        return PARTICIPANT_WEIGHT * self.load.participants + busy


class ClusterListener(RelayListener, Protocol):
    """What the node's signalling server tells the cluster (``SignalingServer``)."""

    def local_counts(self) -> LocalCounts: ...

    def local_rooms(self) -> Collection[str]:
        """Rooms open on this node: their keys are refreshed while they live."""

    def room_moved(self, room: str) -> None:
        """``room`` open here is placed on another node now (this node was taken for
        dead a while): its participants here should rejoin, to meet the others there."""


class Cluster:
    """This node's membership of the cluster: heartbeat, placement, relay, drain.

    ``start()`` connects (``ClusterUnavailable`` with a clear message if Redis cannot be
    reached) and begins the heartbeat; ``close()`` leaves the cluster at once."""

    def __init__(
        self,
        redis_url: str,
        *,
        node_id: str,
        address: str = "",
        key_prefix: str = "vg:",
    ) -> None:
        self.redis_url = redis_url
        self.node_id = node_id
        self.address = address
        self.prefix = key_prefix
        self._redis = aioredis.Redis.from_url(
            redis_url,
            socket_connect_timeout=CONNECT_TIMEOUT_S,
            socket_timeout=CONNECT_TIMEOUT_S,
            single_connection_client=True,  # one ordered stream of commands (relay order)
        )
        self.relay = RelayBus(redis_url, self._redis, node_id=node_id, key_prefix=key_prefix)
        self._place = self._redis.register_script(_PLACE)
        self._hold = self._redis.register_script(_HOLD)
        self._listener: ClusterListener | None = None
        self._draining = False
        self._tasks: list[asyncio.Task[None]] = []
        self._last_outage = 0.0
        self._cpu_mark = (time.monotonic(), time.process_time())
        self._packets_mark: tuple[float, int] | None = None
        self._load = NodeLoad()
        self._cpu_average = 0.0

    # --- wiring ----------------------------------------------------------------------

    def attach(self, listener: ClusterListener) -> None:
        """The signalling server reports its load and rooms, and runs relayed sessions."""
        self._listener = listener
        self.relay.attach(listener)

    @property
    def draining(self) -> bool:
        return self._draining

    # --- life ------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise ClusterUnavailable(
                f"cannot reach Redis at {_safe_url(self.redis_url)}: {exc}"
            ) from exc
        await self.relay.start()
        self._cpu_mark = (time.monotonic(), time.process_time())  # not the start's work
        await self._heartbeat_once()
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="cluster-heartbeat"),
            asyncio.create_task(self._watch_loop(), name="cluster-watch"),
        ]
        log.info("cluster_joined", node=self.node_id, address=self.address)

    async def leave(self) -> None:
        """Stop being a node: others see this one dead at once (its key and relay
        subscription gone), so the clients it closes rejoin elsewhere. Publishing
        still works, for the last frames of the sessions it closes."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        await self.relay.stop_listening()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._key("node", self.node_id))

    async def close(self) -> None:
        await self.leave()
        await self.relay.close()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()

    def drain(self) -> None:
        """Take no new rooms from now on (published at once); rooms here go on."""
        if not self._draining:
            self._draining = True
            log.info("cluster_draining", node=self.node_id)
            self._tasks.append(asyncio.create_task(self._publish_soon(), name="cluster-drain"))

    async def wait_drained(self, timeout_s: float) -> bool:
        """Wait until no room is open here; False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        while self._listener is not None and self._listener.local_rooms():
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.2)
        return True

    # --- placement -------------------------------------------------------------------

    async def place(self, room: str) -> str:
        """The node that holds ``room``: where it lives now if that node is alive, else
        the live non-draining node with the most headroom (the room is placed there)."""
        try:
            nodes = await self.nodes()
            alive = [n for n in nodes if n.alive]
            takers = [n for n in alive if not n.draining]
            random.shuffle(takers)  # equal scores: spread, not all on the first
            args: list[Any] = [room, int(ROOM_TTL_S * 1000), self.prefix, len(alive)]
            args += [n.node_id for n in alive]
            for node in takers:
                args += [node.node_id, f"{node.extra_score():.3f}"]
            chosen = await self._place(keys=[self._key("room", room)], args=args)
        except (RedisError, OSError) as exc:
            self._last_outage = time.monotonic()
            raise ClusterUnavailable(f"Redis unreachable: {exc}") from exc
        if chosen is None:
            raise ClusterUnavailable("no live node takes new rooms")
        return _text(chosen)

    async def room_node(self, room: str) -> str | None:
        """The node a room is placed on, if any (alive or not)."""
        value = await self._redis.get(self._key("room", room))
        return None if value is None else _text(value)

    async def nodes(self) -> list[NodeInfo]:
        """Every node known, each with its last published load and whether it lives."""
        ids = sorted(_text(i) for i in await self._redis.smembers(self._key("nodes")))
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        pipe.mget([self._key("node", i) for i in ids])
        pipe.pubsub_numsub(*(self.relay.channel_of(i) for i in ids))
        published, listeners = await pipe.execute()
        subscribed = {_text(channel): int(count) for channel, count in listeners}
        nodes: list[NodeInfo] = []
        gone: list[str] = []
        for node_id, raw in zip(ids, published, strict=True):
            if raw is None:
                gone.append(node_id)
                continue
            data = json.loads(raw)
            listening = subscribed.get(self.relay.channel_of(node_id), 0) > 0
            nodes.append(
                NodeInfo(
                    node_id=node_id,
                    address=str(data.get("address", "")),
                    load=NodeLoad(**data.get("load", {})),
                    draining=bool(data.get("draining")),
                    alive=listening,
                )
            )
        if gone and not self._in_grace():
            await self._forget(gone)
        return nodes

    async def alive_nodes(self) -> set[str] | None:
        """Ids of the live nodes; None when Redis cannot say (never a death verdict)."""
        try:
            return {n.node_id for n in await self.nodes() if n.alive}
        except (RedisError, OSError):
            self._last_outage = time.monotonic()
            return None

    # --- loops -----------------------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self._heartbeat_once()
            except (RedisError, OSError) as exc:
                if time.monotonic() - self._last_outage > HEARTBEAT_S * 2:
                    log.warning("cluster_redis_unreachable", error=str(exc))
                self._last_outage = time.monotonic()
            except Exception:
                log.exception("cluster_heartbeat_failed")

    async def _publish_soon(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._heartbeat_once()

    async def _heartbeat_once(self) -> None:
        self._load = self._measure()
        rooms = list(self._listener.local_rooms()) if self._listener else []
        info = {
            "address": self.address,
            "draining": self._draining,
            "load": asdict(self._load),
            "at": time.time(),
        }
        noderooms = self._key("noderooms", self.node_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self._key("node", self.node_id), json.dumps(info), px=int(NODE_TTL_S * 1000))
        pipe.sadd(self._key("nodes"), self.node_id)
        pipe.smembers(noderooms)
        results = await pipe.execute()
        for room in rooms:
            held = await self._hold(
                keys=[self._key("room", room), noderooms],
                args=[self.node_id, int(ROOM_TTL_S * 1000), room],
            )
            if not held and self._listener is not None:
                log.warning("cluster_room_moved", room=room)
                self._listener.room_moved(room)
        placed = {_text(r) for r in results[-1]} - set(rooms)
        if placed:  # placed here but not open (yet, or any more): keep while the key says so
            owners = await self._redis.mget([self._key("room", r) for r in placed])
            stale = [
                r
                for r, o in zip(placed, owners, strict=True)
                if o is None or _text(o) != self.node_id
            ]
            if stale:
                await self._redis.srem(noderooms, *stale)

    async def _watch_loop(self) -> None:
        """End relayed connections whose other node died, so their clients rejoin."""
        suspects: set[str] = set()
        while True:
            await asyncio.sleep(WATCH_S)
            peers = self.relay.peer_nodes()
            if not peers:
                continue
            alive = await self.alive_nodes()
            if alive is None or self._in_grace() or not self.relay.subscribed:
                suspects = set()
                continue
            missing = peers - alive - {self.node_id}
            for node_id in missing & suspects:  # seen dead twice in a row: not a blip
                log.warning("cluster_node_lost", node=node_id)
                self.relay.peer_lost(node_id)
            suspects = missing - suspects

    # --- helpers ---------------------------------------------------------------------

    def _measure(self) -> NodeLoad:
        now, cpu = time.monotonic(), time.process_time()
        last_now, last_cpu = self._cpu_mark
        self._cpu_mark = (now, cpu)
        share = (cpu - last_cpu) / (now - last_now) if now > last_now else 0.0
        self._cpu_average += CPU_SMOOTHING * (share - self._cpu_average)
        counts = self._listener.local_counts() if self._listener else LocalCounts()
        packets = counts.packets_forwarded
        rate = 0.0
        if self._packets_mark is not None and now > self._packets_mark[0]:
            rate = max(0, packets - self._packets_mark[1]) / (now - self._packets_mark[0])
        self._packets_mark = (now, packets)
        return NodeLoad(
            rooms=counts.rooms,
            participants=counts.participants,
            packets_per_s=round(rate, 1),
            cpu=round(self._cpu_average, 3),
        )

    def _in_grace(self) -> bool:
        return time.monotonic() - self._last_outage < OUTAGE_GRACE_S

    async def _forget(self, node_ids: list[str]) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.srem(self._key("nodes"), *node_ids)
        for node_id in node_ids:
            pipe.delete(self._key("noderooms", node_id))
        await pipe.execute()

    def _key(self, kind: str, name: str | None = None) -> str:
        return f"{self.prefix}{kind}" if name is None else f"{self.prefix}{kind}:{name}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if "@" in rest:
        rest = "***@" + rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"
