"""A real network link for call measurements: a network namespace behind a veth pair,
shaped by the kernel (``tc`` ``tbf``) and made lossy by nftables.

The SFU's own impairment shim (``sfu/impairment.py``) drops what the SFU decides to
send; a browser behind a real bottleneck also sees queueing delay, loss of its RTCP,
and its own congestion control reacting. This module gives a measurement the real
thing: the host keeps ``10.77.<n>.1/30`` on its side of the pair, the namespace gets
``10.77.<n>.2/30``, and whatever runs inside (a headless Chromium, through the wrapper
script ``chromium_wrapper`` writes) reaches the host only through the pair.

- *down* (host → namespace) is shaped on the host side's egress, *up* on the namespace
  side's egress: ``tbf`` only shapes what leaves an interface.
- Random loss is an nftables rule inside the namespace (``numgen random``): input for
  *down*, output for *up*. The host's own ruleset is never touched.
- Everything is torn down when the context ends, on failure too, and at interpreter
  exit; namespaces left by a run that was killed are removed by the next one.

This kernel has no ``netem`` (no added delay, no jitter): bandwidth and loss only.
Needs root, ``ip netns``, ``tc`` and ``nft`` (Debian's ``iproute2`` and ``nftables``).
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog

from bench.chromium import CHROMIUM_PATH

log = structlog.get_logger(__name__)

Direction = Literal["down", "up"]
NAMESPACE_PREFIX = "vglink-"
FIRST_INDEX, LAST_INDEX = 1, 250
DEFAULT_BURST_BYTES = 4096
DEFAULT_LATENCY_MS = 50
LOSS_TABLE = "vglink"
COMMAND_TIMEOUT_S = 10.0


def unavailable_reason() -> str | None:
    """Why this machine cannot make a real link at all (None: it can): not root, or
    no ``ip netns``. Missing ``tc``/``nft`` is an installation fault, raised later."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    probe = subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
    )
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    return None


def _check_tools() -> None:
    missing = [tool for tool in ("tc", "nft") if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} missing: install Debian's iproute2 and nftables "
            "(scripts/install.sh test does)"
        )


def _run(argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class ShaperCounters:
    """A ``tbf`` qdisc's counters: what it sent and what it dropped (queue full)."""

    packets: int
    bytes: int
    drops: int
    overlimits: int

    def since(self, earlier: ShaperCounters) -> ShaperCounters:
        return ShaperCounters(
            self.packets - earlier.packets,
            self.bytes - earlier.bytes,
            self.drops - earlier.drops,
            self.overlimits - earlier.overlimits,
        )

    @property
    def drop_ratio(self) -> float:
        offered = self.packets + self.drops
        return self.drops / offered if offered else 0.0


@dataclass
class RealLink:
    """One namespace and its veth pair; shaping and loss change while traffic flows."""

    index: int
    namespace: str
    host_interface: str
    namespace_interface: str
    closed: bool = False

    @property
    def network(self) -> str:
        return f"10.77.{self.index}.0/30"

    @property
    def host_address(self) -> str:
        return f"10.77.{self.index}.1"

    @property
    def namespace_address(self) -> str:
        return f"10.77.{self.index}.2"

    def in_namespace(self, *argv: str) -> list[str]:
        """``argv`` as a command that runs inside the namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def _device(self, direction: Direction) -> tuple[list[str], str]:
        """The ``tc`` command and the device whose egress carries ``direction``."""
        if direction == "down":
            return ["tc"], self.host_interface
        return self.in_namespace("tc"), self.namespace_interface

    def shape(
        self,
        direction: Direction,
        rate_bps: int | None,
        *,
        burst_bytes: int = DEFAULT_BURST_BYTES,
        latency_ms: int = DEFAULT_LATENCY_MS,
    ) -> None:
        """Cap ``direction`` at ``rate_bps`` (token bucket, ``latency_ms`` of queue at
        most); ``None`` lifts the cap. Changes apply to traffic already flowing."""
        tc, device = self._device(direction)
        if rate_bps is None:
            _run([*tc, "qdisc", "del", "dev", device, "root"], check=False)  # none: fine
            if self.shaper_kind(direction) == "tbf":
                raise RuntimeError(f"the cap on {direction} did not lift")
            return
        _run(
            [
                *tc, "qdisc", "replace", "dev", device, "root", "tbf",
                "rate", f"{int(rate_bps)}bit",
                "burst", str(burst_bytes),
                "latency", f"{latency_ms}ms",
            ]
        )  # fmt: skip

    def shaper_kind(self, direction: Direction) -> str:
        """The root qdisc of ``direction``'s device (``tbf`` while capped)."""
        tc, device = self._device(direction)
        out = _run([*tc, "-j", "qdisc", "show", "dev", device]).stdout
        roots = [q for q in json.loads(out or "[]") if q.get("root")]
        return str(roots[0].get("kind", "")) if roots else ""

    def shaper_counters(self, direction: Direction) -> ShaperCounters:
        """The root qdisc's counters on ``direction``'s device (zeros when unshaped)."""
        tc, device = self._device(direction)
        out = _run([*tc, "-s", "-j", "qdisc", "show", "dev", device]).stdout
        for qdisc in json.loads(out or "[]"):
            if qdisc.get("root"):
                return ShaperCounters(
                    int(qdisc.get("packets", 0)),
                    int(qdisc.get("bytes", 0)),
                    int(qdisc.get("drops", 0)),
                    int(qdisc.get("overlimits", 0)),
                )
        return ShaperCounters(0, 0, 0, 0)

    def set_loss(self, direction: Direction, percent: int) -> None:
        """Drop ``percent`` % of ``direction``'s packets at random (0: none)."""
        if not 0 <= percent <= 100:
            raise ValueError(f"loss must be 0-100 %, got {percent}")
        chain = "input" if direction == "down" else "output"
        nft = self.in_namespace("nft")
        _run([*nft, "add", "table", "inet", LOSS_TABLE])
        _run(
            [*nft, "add", "chain", "inet", LOSS_TABLE, chain,
             f"{{ type filter hook {chain} priority 0; policy accept; }}"]
        )  # fmt: skip
        _run([*nft, "flush", "chain", "inet", LOSS_TABLE, chain])
        if percent:
            _run(
                [*nft, "add", "rule", "inet", LOSS_TABLE, chain,
                 "meta", "iifname" if chain == "input" else "oifname", self.namespace_interface,
                 "numgen", "random", "mod", "100", "<", str(percent), "drop"]
            )  # fmt: skip

    def lift_all(self) -> None:
        """No cap and no loss either way."""
        directions: tuple[Direction, ...] = ("down", "up")
        for direction in directions:
            self.shape(direction, None)
        _run([*self.in_namespace("nft"), "delete", "table", "inet", LOSS_TABLE], check=False)

    def chromium_wrapper(self, directory: Path, chromium: str = CHROMIUM_PATH) -> Path:
        """An executable that starts ``chromium`` inside the namespace with the arguments
        it is given (for Playwright's ``executable_path``)."""
        path = directory / f"chromium-in-{self.namespace}"
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.namespace} {chromium} "$@"\n')
        path.chmod(0o755)
        return path

    def close(self) -> None:
        """Stop what still runs inside, then remove the namespace and the pair."""
        if self.closed:
            return
        self.closed = True
        _remove_namespace(self.namespace)
        _run(["ip", "link", "del", self.host_interface], check=False)
        log.info("real_link.closed", namespace=self.namespace)


def _remove_namespace(namespace: str) -> None:
    """Processes still inside (a browser started there) are ended first: a namespace
    lives on, with its end of the pair, while anything runs in it."""
    pids = _run(["ip", "netns", "pids", namespace], check=False).stdout.split()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _run(["ip", "netns", "del", namespace], check=False)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_links() -> None:
    """Namespaces of earlier runs whose process is gone (killed before its clean-up)."""
    names = _run(["ip", "netns", "list"], check=False).stdout.split("\n")
    for line in names:
        name = line.split(" ")[0]
        if not name.startswith(NAMESPACE_PREFIX):
            continue
        _index, _, owner = name.removeprefix(NAMESPACE_PREFIX).partition("-")
        if owner.isdigit() and not _pid_alive(int(owner)):
            log.info("real_link.stale_removed", namespace=name)
            _remove_namespace(name)


def _addresses_in_use() -> set[int]:
    """Third octets of 10.77.x.y addresses already on the host."""
    out = _run(["ip", "-o", "-4", "addr", "show"], check=False).stdout
    used = set()
    for word in out.split():
        with contextlib.suppress(ValueError):
            address = ipaddress.ip_interface(word).ip
            if address in ipaddress.ip_network("10.77.0.0/16"):
                used.add(int(str(address).split(".")[2]))
    return used


def _claim() -> RealLink:
    """A free index, claimed by creating its veth pair (atomic: names are unique)."""
    used = _addresses_in_use()
    pid = os.getpid()
    for index in range(FIRST_INDEX, LAST_INDEX + 1):
        if index in used:
            continue
        host_if, ns_if = f"vlh{index}", f"vln{index}"
        made = _run(
            ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if], check=False
        )
        if made.returncode == 0:
            return RealLink(index, f"{NAMESPACE_PREFIX}{index}-{pid}", host_if, ns_if)
    raise RuntimeError("no free 10.77.<n>.0/30 network for a real link")


def _set_up(link: RealLink) -> None:
    ns = link.namespace
    _run(["ip", "netns", "add", ns])
    _run(["ip", "link", "set", link.namespace_interface, "netns", ns])
    _run(["ip", "addr", "add", f"{link.host_address}/30", "dev", link.host_interface])
    _run(["ip", "link", "set", link.host_interface, "up"])
    inside = link.in_namespace
    _run(inside("ip", "addr", "add", f"{link.namespace_address}/30", "dev",
                link.namespace_interface))  # fmt: skip
    _run(inside("ip", "link", "set", link.namespace_interface, "up"))
    _run(inside("ip", "link", "set", "lo", "up"))


@contextlib.contextmanager
def real_link() -> Iterator[RealLink]:
    """A fresh namespace and veth pair, unshaped; removed when the block ends."""
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(f"no real link: {reason}")
    _check_tools()
    remove_stale_links()
    link = _claim()
    atexit.register(link.close)
    try:
        _set_up(link)
        log.info("real_link.ready", namespace=link.namespace, host=link.host_address)
        yield link
    finally:
        link.close()
        atexit.unregister(link.close)
