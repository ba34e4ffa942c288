"""Locust load of Visioguichet: call participants and booking users.

Run through ``python -m bench.load`` (which starts the service), or by hand against a
running service with the same data folder (the join-token key lives there)::

    VISIOGUICHET_DATA_DIR=data locust -f bench/locustfile.py --host http://127.0.0.1:8080

Call participants join through our signalling, publish Opus + VP8 (pre-encoded),
subscribe to the other participant, stay, and leave. Users 2k and 2k+1 share a call.
Their media runs in a child process (``bench.media_worker``: aiortc needs asyncio,
Locust runs on gevent); what it measures comes back as request events of type
``WebRTC``: ``join`` and ``media start`` (ms), ``received kbps``, ``loss ‰``,
``late packets`` and ``generator CPU %`` (the value sits in the response-time column).

Environment: ``VISIOGUICHET_DATA_DIR`` (required for calls), ``BENCH_PROFILE``
(video, audio, group3, video-small), ``BENCH_CALL_USERS`` (how many of the users are
call participants; the rest book), ``BENCH_STAY_S`` (leave and rejoin after that many
seconds; 0 = stay until the end), ``BENCH_RUN_ID`` (room-name prefix).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import gevent
import gevent.event
from gevent import subprocess
from locust import HttpUser, User, between, constant, events, task
from locust.env import Environment

REPO_ROOT = Path(__file__).resolve().parent.parent
PROFILE = os.environ.get("BENCH_PROFILE", "video")
RUN_ID = os.environ.get("BENCH_RUN_ID", str(int(time.time())))
STAY_S = float(os.environ.get("BENCH_STAY_S", "0"))
STATS_INTERVAL_S = 2.0
MEDIA_WORKER_START_TIMEOUT_S = 60.0
PARTICIPANTS_PER_CALL = 3 if PROFILE == "group3" else 2


class MediaWorkerProcess:
    """The child process holding this Locust process's media bots."""

    _instance: MediaWorkerProcess | None = None

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.ready = gevent.event.Event()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.media_worker", PROFILE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        self.reader = gevent.spawn(self._read)

    @classmethod
    def get(cls, environment: Environment) -> MediaWorkerProcess:
        if cls._instance is None or cls._instance.process.poll() is not None:
            cls._instance = cls(environment)
        return cls._instance

    @classmethod
    def shutdown(cls) -> None:
        if cls._instance is not None:
            cls._instance.close()
            cls._instance = None

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(command) + "\n").encode())
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fire("worker", 0, Exception("media worker is gone"))

    def _fire(
        self, name: str, value: float, exception: Exception | None = None, length: int = 0
    ) -> None:
        self.environment.events.request.fire(
            request_type="WebRTC", name=name, response_time=value, response_length=length,
            exception=exception, context={},
        )  # fmt: skip

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            kind = event.get("event")
            if kind == "ready":
                self.ready.set()
            elif kind == "joined":
                self._fire("join", 1000 * event["join_s"])
            elif kind == "media":
                self._fire("media start", 1000 * event["media_start_s"])
            elif kind == "stats":
                packets = int(event["packets"])
                failure = None if packets else Exception("no media received in the interval")
                self._fire("received kbps", event["kbps"], failure, packets)
                self._fire("loss ‰", 1000 * event["loss"])
                self._fire("late packets", event["late"])
            elif kind == "generator":
                self._fire("generator CPU %", event["cpu_pct"])
            elif kind == "error":
                self._fire(event.get("stage", "error"), 0, Exception(event.get("message")))

    def close(self) -> None:
        self.send({"op": "quit"})
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.reader.kill(block=False)


@events.test_start.add_listener
def _start_media(environment: Environment, **_kwargs: Any) -> None:
    """Start the media process before the users: its start-up (imports, clips) is not
    part of the run, and a short run still has its whole time for calls."""
    if CallParticipant.fixed_count > 0:
        worker = MediaWorkerProcess.get(environment)
        if not worker.ready.wait(timeout=MEDIA_WORKER_START_TIMEOUT_S):
            worker._fire("worker", 0, Exception("media worker did not start in time"))


@events.test_stop.add_listener
def _stop_media(**_kwargs: Any) -> None:
    MediaWorkerProcess.shutdown()


@events.quitting.add_listener
def _quit_media(**_kwargs: Any) -> None:
    MediaWorkerProcess.shutdown()


_participant_numbers = itertools.count()
_signer: Any = None


def _mint(room: str, role: str, subject: str) -> str:
    global _signer
    if _signer is None:
        from visioguichet.join_token import load_or_create_signer

        data_dir = os.environ.get("VISIOGUICHET_DATA_DIR")
        if not data_dir:
            raise RuntimeError("set VISIOGUICHET_DATA_DIR to the service's data folder")
        _signer = load_or_create_signer(Path(data_dir) / "join-token.key")
    return str(
        _signer.mint(
            room=room, role=role, subject=subject, name=subject,
            expires_at=time.time() + 3600, lobby=False,
        )
    )  # fmt: skip


class CallParticipant(User):
    """One participant of a call: join, publish, subscribe, stay, leave."""

    fixed_count = int(os.environ.get("BENCH_CALL_USERS", "2"))
    wait_time = constant(STATS_INTERVAL_S)

    def on_start(self) -> None:
        number = next(_participant_numbers)
        call = number // PARTICIPANTS_PER_CALL
        self.bot_id = f"{RUN_ID}-c{call}-p{number % PARTICIPANTS_PER_CALL}"
        self.role = "host" if number % PARTICIPANTS_PER_CALL == 0 else "guest"
        self.room = f"load-{RUN_ID}-{call}"
        self.worker = MediaWorkerProcess.get(self.environment)
        self._join()

    def _join(self) -> None:
        assert self.host, "run with --host http://127.0.0.1:PORT"
        ws_url = self.host.replace("http://", "ws://", 1).rstrip("/") + "/ws"
        token = _mint(self.room, self.role, self.bot_id)
        self.joined_at = time.monotonic()
        self.worker.send({"op": "join", "id": self.bot_id, "ws_url": ws_url, "token": token})

    @task
    def stay(self) -> None:
        self.worker.send({"op": "stats", "id": self.bot_id})
        if STAY_S and time.monotonic() - self.joined_at > STAY_S:
            self.worker.send({"op": "leave", "id": self.bot_id})
            gevent.sleep(1.0)
            self._join()

    def on_stop(self) -> None:
        self.worker.send({"op": "leave", "id": self.bot_id})


class BookingUser(HttpUser):
    """A citizen: browse services and slots, book one, cancel it."""

    weight = 1
    wait_time = between(1, 3)

    @task
    def book_and_cancel(self) -> None:
        services = self.client.get("/api/services", name="/api/services").json()
        motifs = [m for s in services for m in s.get("motifs", [])]
        if not motifs:
            return
        motif = random.choice(motifs)
        start = date.today() + timedelta(days=1)
        end = start + timedelta(days=14)
        reply = self.client.get(
            f"/api/motifs/{motif['id']}/slots?from={start}&to={end}",
            name="/api/motifs/[id]/slots",
        )
        slots = reply.json().get("slots", []) if reply.ok else []
        if not slots:
            return
        slot = random.choice(slots[:30])
        body = {
            "motif_id": motif["id"],
            "start": slot["start"],
            "citizen": {
                "name": "Load Test",
                "email": f"load-{random.randrange(10**9)}@example.org",
            },
        }
        with self.client.post(
            "/api/bookings", json=body, name="/api/bookings", catch_response=True
        ) as response:
            if response.status_code == 409:  # another user took the slot: expected under load
                response.success()
                return
            if response.status_code != 201:
                response.failure(f"HTTP {response.status_code}")
                return
            manage_url = str(response.json().get("manage_url", ""))
        fragment = manage_url.partition("#")[2]
        token = fragment.partition("=")[2] if "=" in fragment else fragment
        if token:
            self.client.post(f"/api/manage/{token}/cancel", name="/api/manage/[token]/cancel")
