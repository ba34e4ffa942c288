"""CPU time of a process from ``/proc/<pid>/stat`` (all its threads), for CPU % per step."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` (every thread)."""
    with open(f"/proc/{pid}/stat") as stat:
        text = stat.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


@dataclass
class CpuWindow:
    """CPU % of one core used by a process between ``start()`` and ``stop()``."""

    pid: int
    _cpu0: float = 0.0
    _t0: float = 0.0
    cpu_s: float = 0.0
    wall_s: float = 0.0

    def start(self) -> None:
        self._cpu0 = process_cpu_s(self.pid)
        self._t0 = time.monotonic()

    def stop(self) -> float:
        self.cpu_s = process_cpu_s(self.pid) - self._cpu0
        self.wall_s = time.monotonic() - self._t0
        return self.percent

    @property
    def percent(self) -> float:
        return 100.0 * self.cpu_s / self.wall_s if self.wall_s > 0 else 0.0


def core_ticks(core: int) -> tuple[int, int]:
    """(busy, total) jiffies of one core so far, from ``/proc/stat``; steal counts as busy."""
    prefix = f"cpu{core} "
    with open("/proc/stat") as stat:
        for line in stat:
            if line.startswith(prefix):
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]  # idle, iowait
                return sum(values[:8]) - idle, sum(values[:8])
    raise OSError(f"no cpu{core} in /proc/stat")


@dataclass
class CoreWindow:
    """How busy one core was (every process, the kernel, the hypervisor's steal) between
    ``start()`` and ``stop()``: beside a pinned server's own CPU %, it shows whether
    something else competed for the server's core during the measurement."""

    core: int | None
    _busy0: int = 0
    _total0: int = 0

    def start(self) -> None:
        if self.core is not None:
            self._busy0, self._total0 = core_ticks(self.core)

    def stop(self) -> float | None:
        if self.core is None:
            return None
        busy, total = core_ticks(self.core)
        return 100.0 * (busy - self._busy0) / max(1, total - self._total0)


def machine_info() -> dict[str, object]:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cores": os.cpu_count() or 1, "cpu_model": model}


def pin_to_core(pid: int, core: int) -> bool:
    """Pin ``pid`` (and threads created later) to one core; False where not allowed."""
    try:
        allowed = os.sched_getaffinity(0)
        if core not in allowed:
            return False
        os.sched_setaffinity(pid, {core})
        for task in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(task), {core})
        return True
    except OSError:
        return False
