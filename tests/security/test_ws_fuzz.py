"""The signalling WebSocket under hostile frames, against the real service process.

A few hundred generated frames (``ws_fuzz_frames``, fixed seed), before and after
``join``, in JSON and msgpack connections, then a burst of joins and leaves with valid
tokens. Each bad frame must get an ``error`` (never ``internal``: that code means a
handler failed) or a clean close, the server must log no traceback, and at the end a
fresh client must still join and exchange a chat message.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from signaling.client import SignalingClient
from signaling.errors import ERROR_CODES
from tests.security.ws_fuzz_frames import BadFrame, bad_frames
from tests.security.ws_raw import ANSWER_TIMEOUT_S, RawConnection
from tests.support.server import RunningService, run_service
from visioguichet.join_token import Role

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

SEED = 1204
FRAMES = 360
CONNECTIONS = 4  # fuzzing side by side, each within the per-connection rate limit
FRAMES_PER_CONNECTION = 30  # then a new connection (a fresh rate-limit bucket, new state)
PACE_S = 0.12  # a bad frame and a ping each time: under 20 frames/s
JOIN_LEAVE_CYCLES = 40
CLEAN_CLOSE_CODES = frozenset({1000, 1009, 1013, 4000})
# every code the server may send, but ``internal``: that one says a handler failed
ACCEPTED_CODES = ERROR_CODES - {"internal"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(tmp_path_factory.mktemp("ws-fuzz"), demo=False) as running:
        yield running


@dataclass
class FuzzReport:
    problems: list[str] = field(default_factory=list)
    errors_seen: dict[str, int] = field(default_factory=dict)
    closes_seen: dict[int, int] = field(default_factory=dict)
    frames_sent: int = 0

    def problem(self, case: BadFrame, what: str) -> None:
        self.problems.append(f"{case.describe()} → {what}")


async def _judge(conn: RawConnection, case: BadFrame, report: FuzzReport) -> bool:
    """Send one bad frame and judge the answer; False when the socket is gone."""
    report.frames_sent += 1
    try:
        await conn.send(case.data)
        seen, alive = await conn.until_pong()
    except (ConnectionError, aiohttp.ClientError):
        seen, alive = [], False
    except TimeoutError:
        report.problem(case, f"no answer within {ANSWER_TIMEOUT_S} s (socket still open)")
        return False
    errors = [f for f in seen if f.get("type") == "error"]
    for error in errors:
        code = str(error.get("code"))
        report.errors_seen[code] = report.errors_seen.get(code, 0) + 1
        if code not in ACCEPTED_CODES:
            report.problem(case, f"error {code!r}: {error.get('message')!r}")
    if not alive:
        close_code = conn.ws.close_code
        report.closes_seen[close_code or 0] = report.closes_seen.get(close_code or 0, 0) + 1
        # an oversized frame may be cut off mid-send: the client then sees a reset (1006)
        if close_code not in CLEAN_CLOSE_CODES and not case.may_close:
            report.problem(case, f"connection lost without a clean close (code {close_code})")
        return False
    if case.expect_error and not errors:
        kinds = [f.get("type") for f in seen]
        report.problem(case, f"no error frame (got {kinds or 'nothing'} before the pong)")
    return True


async def _fuzz_connection(
    service: RunningService, cases: list[BadFrame], index: int, report: FuzzReport
) -> None:
    pending = list(cases)
    for attempt in itertools.count():
        if not pending or attempt > len(cases):
            return
        conn = await RawConnection.open(service.ws_url, binary=(index + attempt) % 2 == 1)
        try:
            if (index + attempt) % 3 != 2:  # one connection in three stays before join
                role: Role = "host" if attempt % 2 == 0 else "guest"
                subject = f"fuzz-{index}-{attempt}"
                # a room of its own: what a frame breaks shows on the frame that broke it
                room = f"fuzz-{index}-{attempt}"
                token = service.mint(room=room, role=role, subject=subject, name="Fuzz")
                await conn.send_frame({"type": "join", "token": token, "id": "join"})
                while (frame := await conn.receive(ANSWER_TIMEOUT_S)) is not None:
                    if frame.get("ref") == "join":
                        assert frame["type"] == "joined", frame
                        break
            while pending:
                case = pending.pop(0)
                if not await _judge(conn, case, report):
                    break
                await asyncio.sleep(PACE_S)
        finally:
            await conn.close()


async def _join_and_leave_quickly(service: RunningService, report: FuzzReport) -> None:
    """Valid tokens, joined and dropped in every way a flaky client would."""
    for cycle in range(JOIN_LEAVE_CYCLES):
        subject = f"churn-{cycle % 5}"  # the same people again and again: replaced, rejoined
        token = service.mint(
            room="churn-room", role="host" if cycle % 4 else "guest", subject=subject, name="Churn"
        )
        conns = [await RawConnection.open(service.ws_url, binary=cycle % 2 == 1) for _ in range(2)]
        try:
            for conn in conns:  # the same subject twice at once
                await conn.send_frame({"type": "join", "token": token})
            match cycle % 4:
                case 0:
                    await conns[0].send_frame({"type": "leave"})
                case 1:
                    await conns[1].send_frame({"type": "end"})
                case 2:
                    await conns[0].ws.close()
                case _:
                    pass  # dropped at once, join maybe not answered yet
        finally:
            for conn in conns:
                await conn.close()
    await asyncio.sleep(1.0)


async def _ghosts_in(service: RunningService, room: str) -> list[str]:
    """Who a newcomer finds in ``room`` once every connection to it has closed (waiting a
    few seconds for the server to notice the closes)."""
    deadline = time.monotonic() + 5.0
    attempt = 0
    while True:
        attempt += 1
        async with SignalingClient(service.ws_url, ice_addresses=("127.0.0.1",)) as client:
            token = service.mint(room=room, role="host", subject=f"newcomer-{attempt}", name="N")
            joined = await client.join(token)
            assert joined["type"] == "joined", joined
            ghosts = [str(p["id"]) for p in joined["participants"]]
            with contextlib.suppress(Exception):
                await client.leave()
        if not ghosts or time.monotonic() > deadline:
            return ghosts
        await asyncio.sleep(0.5)


async def _fresh_pair_still_talks(service: RunningService) -> None:
    async with (
        SignalingClient(service.ws_url, ice_addresses=("127.0.0.1",)) as host,
        SignalingClient(service.ws_url, ice_addresses=("127.0.0.1",), use_msgpack=True) as guest,
    ):
        joined = await host.join(service.mint(room="after", role="host", subject="a", name="A"))
        assert joined["type"] == "joined", joined
        joined = await guest.join(service.mint(room="after", role="guest", subject="b", name="B"))
        assert joined["type"] == "joined", joined
        await host.request({"type": "chat", "text": "toujours là ?"})
        chat = await guest.next_frame("chat", timeout_s=5)
        assert chat["text"] == "toujours là ?"


def _tracebacks(log: str) -> list[str]:
    records = []
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and (record.get("exc_info") or record.get("exception")):
                exception = str(record.get("exception") or record.get("exc_info"))
                records.append(f"{record.get('event')}: {exception[-600:]}")
                continue
        if "Traceback" in line:
            records.append(line[:300])
    return records


async def test_hostile_frames_get_errors_and_the_server_keeps_serving(
    service: RunningService,
) -> None:
    started = time.monotonic()
    cases = list(bad_frames(SEED, FRAMES))
    report = FuzzReport()
    shares = [cases[i::CONNECTIONS] for i in range(CONNECTIONS)]
    chunks = [
        (index, share[start : start + FRAMES_PER_CONNECTION])
        for index, share in enumerate(shares)
        for start in range(0, len(share), FRAMES_PER_CONNECTION)
    ]

    async def worker(index: int) -> None:
        for chunk_index, chunk in chunks[index::CONNECTIONS]:
            await _fuzz_connection(service, chunk, chunk_index * 7 + index, report)

    await asyncio.gather(*(worker(i) for i in range(CONNECTIONS)))
    await _join_and_leave_quickly(service, report)
    ghosts = await _ghosts_in(service, "churn-room")
    if ghosts:
        report.problems.append(f"join/leave churn left participants behind: {ghosts}")

    assert service.process.poll() is None, "the server exited:\n" + service.log_text()[-3000:]
    await _fresh_pair_still_talks(service)
    tracebacks = _tracebacks(service.log_text())
    elapsed = time.monotonic() - started
    summary = (
        f"{report.frames_sent} bad frames in {elapsed:.0f} s; errors {report.errors_seen}; "
        f"closes {report.closes_seen}"
    )
    print(summary)
    if report.problems or tracebacks:
        pytest.fail(
            summary
            + "\nframes answered wrongly:\n  "
            + "\n  ".join(report.problems)
            + "\nserver tracebacks:\n  "
            + "\n  ".join(tracebacks[:30]),
            pytrace=False,
        )


@pytest.mark.parametrize(
    "text",
    ["a\\ud800b", "\\udfff", "\\ud83d"],  # JSON escapes of lone surrogates
)
async def test_a_chat_no_encoder_can_write_leaves_the_room_talking(
    service: RunningService, text: str
) -> None:
    """A chat goes to everybody in the room: if the server cannot write it, the sender
    gets an error and nobody's connection stops."""
    room = f"chat-{text.encode().hex()}"
    conns = []
    try:
        for subject in ("sender", "listener"):  # JSON in, msgpack out: both encoders
            conn = await RawConnection.open(service.ws_url, binary=subject == "listener")
            conns.append(conn)
            token = service.mint(room=room, role="host", subject=subject, name=subject)
            await conn.send_frame({"type": "join", "token": token, "id": "join"})
            while (frame := await conn.receive(ANSWER_TIMEOUT_S)) is not None:
                if frame.get("ref") == "join":
                    break
        sender, listener = conns
        await sender.send('{"type": "chat", "text": "' + text + '", "id": "c"}')
        await asyncio.sleep(0.3)  # the chat handled and delivered before the pings
        for who, conn in (("another participant", listener), ("the sender", sender)):
            try:
                _, alive = await conn.until_pong()
            except TimeoutError:
                pytest.fail(f"{who} gets no answer any more after a chat of {text!r}")
            assert alive, f"{who} was disconnected by a chat of {text!r}"
    finally:
        for conn in conns:
            await conn.close()
