"""Media bots in their own process, driven by Locust over stdin/stdout (JSON lines).

Locust runs on gevent, which patches sockets, threads and ``select``; aiortc needs a
real asyncio loop. So the bots live in this child process (uvloop), one per Locust
process, and report what they measure as JSON lines the locustfile turns into
request events.

Commands (stdin): ``{"op": "join", "id", "ws_url", "token"}``, ``{"op": "stats", "id"}``,
``{"op": "leave", "id"}``, ``{"op": "quit"}``.
Events (stdout): ``ready`` (once, when commands are read), ``joined`` (``join_s``),
``media`` (``media_start_s``), ``stats`` (``loss``, ``kbps``, ``packets``, ``late``,
``seconds``), ``left``, ``error`` (``stage``, ``message``), ``generator`` (``cpu_pct``
of this process since the last report).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from typing import Any

from bench.participants import PROFILES, Clips
from bench.proc_cpu import process_cpu_s
from bench.rtp_pump import close_pump

MEDIA_START_TIMEOUT_S = 15.0


class MediaWorker:
    """Owns every bot of this process; ``run()`` until stdin closes or ``quit``."""

    def __init__(self, profile_name: str) -> None:
        self.clips = Clips.for_profile(PROFILES[profile_name])
        self.bots: dict[str, Any] = {}
        self.last: dict[str, tuple[float, dict[str, int]]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self._cpu = (time.monotonic(), process_cpu_s(os.getpid()))

    def emit(self, event: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self.emit({"event": "ready"})  # clips loaded, commands are read from now on
        try:
            while line := await reader.readline():
                command = json.loads(line)
                op = command.get("op")
                if op == "quit":
                    break
                if op == "join":
                    self.spawn(self.join(command["id"], command["ws_url"], command["token"]))
                elif op == "stats":
                    self.stats(command["id"])
                elif op == "leave":
                    self.spawn(self.leave(command["id"]))
        finally:
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await asyncio.gather(*(b.close() for b in self.bots.values()), return_exceptions=True)
            await close_pump()

    async def join(self, bot_id: str, ws_url: str, token: str) -> None:
        try:
            from bench.our_bot import OurBot

            bot = OurBot(bot_id, self.clips, ws_url, "127.0.0.1")
            self.bots[bot_id] = bot
            async with asyncio.timeout(30):
                await bot.start(token)
        except Exception as exc:
            self.emit({"event": "error", "id": bot_id, "stage": "join", "message": repr(exc)})
            return
        self.emit({"event": "joined", "id": bot_id, "join_s": bot.join_s})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(bot.stats.media_arrived.wait(), MEDIA_START_TIMEOUT_S)
        if bot.media_start_s is None:
            self.emit({"event": "error", "id": bot_id, "stage": "media", "message": "no media"})
        else:
            self.emit({"event": "media", "id": bot_id, "media_start_s": bot.media_start_s})
        # intervals are measured from media start: before it, there is nothing to lose
        self.last[bot_id] = (time.monotonic(), bot.stats.snapshot())

    def stats(self, bot_id: str, min_interval_s: float = 1.0) -> None:
        bot = self.bots.get(bot_id)
        if bot is None or bot_id not in self.last:
            return
        then, before = self.last[bot_id]
        now, after = time.monotonic(), bot.stats.snapshot()
        if now - then < min_interval_s:  # too short to say anything about a rate
            return
        self.last[bot_id] = (now, after)
        d = {k: after[k] - before[k] for k in after}
        expected = d["audio_expected"] + d["video_expected"]
        lost = d["audio_lost"] + d["video_lost"]
        seconds = max(now - then, 1e-6)
        self.emit(
            {
                "event": "stats",
                "id": bot_id,
                "seconds": seconds,
                "packets": d["audio_packets"] + d["video_packets"],
                "loss": lost / expected if expected else 1.0,
                "late": d["audio_late"] + d["video_late"],
                "kbps": (d["audio_bytes"] + d["video_bytes"]) * 8 / seconds / 1000,
            }
        )
        t0, cpu0 = self._cpu
        self._cpu = (now, process_cpu_s(os.getpid()))
        if now - t0 > 0.5:
            cpu_pct = 100 * (self._cpu[1] - cpu0) / (now - t0)
            self.emit({"event": "generator", "cpu_pct": cpu_pct, "bots": len(self.bots)})

    async def leave(self, bot_id: str) -> None:
        self.stats(bot_id, min_interval_s=0.25)  # the last interval counts too (short runs)
        bot = self.bots.pop(bot_id, None)
        self.last.pop(bot_id, None)
        if bot is not None:
            with contextlib.suppress(Exception):
                await bot.close()
            self.emit({"event": "left", "id": bot_id})


def main() -> int:
    profile = sys.argv[1] if len(sys.argv) > 1 else "video"
    worker = MediaWorker(profile)
    try:
        import uvloop

        uvloop.run(worker.run())
    except ImportError:
        asyncio.run(worker.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
