"""Tampered join tokens, on the real service: the signalling server and the document API
accept none of them.

From one genuine citizen join token (booked through the API), 300 seeded mutations:
characters changed, cut, added or swapped between its two halves, halves taken from
another token, claims re-encoded without re-signing. A mutation whose two base64url
halves still decode to the genuine bytes is the same token and is left out (base64url's
last character carries unused bits). Each must get a ``token-*`` error on ``join`` and a
401/403 from the document API, never a room nor a document.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import string
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import msgpack
import pytest

from tests.security.ws_raw import ANSWER_TIMEOUT_S, RawConnection
from tests.support.server import RunningService, run_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

SEED = 4242
MUTATIONS = 300
TOKENS_PER_SOCKET = 25
ALPHABET = string.ascii_letters + string.digits + "-_"


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decoded(token: str) -> tuple[bytes, bytes] | None:
    body, sep, signature = token.partition(".")
    if not sep:
        return None
    try:
        return _b64decode(body), _b64decode(signature)
    except ValueError:
        return None


def mutations(token: str, other: str, seed: int, count: int) -> Iterator[tuple[str, str]]:
    """(kind, token) pairs, none of which is ``token`` itself once decoded."""
    rng = random.Random(seed)
    genuine = _decoded(token)
    body, _, signature = token.partition(".")
    other_body, _, other_signature = other.partition(".")
    claims = msgpack.unpackb(_b64decode(body), raw=False)
    made = 0
    while made < count:
        kind = rng.choice(("flip", "cut", "extend", "splice", "foreign", "claims", "garbage"))
        chars = list(token)
        if kind == "flip":
            for _ in range(rng.randint(1, 3)):
                at = rng.randrange(len(chars))
                chars[at] = rng.choice(ALPHABET + ".=+/ ")
            candidate = "".join(chars)
        elif kind == "cut":
            start = rng.randrange(len(token))
            candidate = token[:start] + token[start + rng.randint(1, 40) :]
        elif kind == "extend":
            candidate = token + "".join(
                rng.choice(ALPHABET + ".") for _ in range(rng.randint(1, 8))
            )
        elif kind == "splice":
            candidate = rng.choice((f"{body}.{other_signature}", f"{other_body}.{signature}"))
        elif kind == "foreign":
            candidate = rng.choice(
                (f"{body}.{body}", f"{signature}.{signature}", body, f".{signature}")
            )
        elif kind == "claims":
            changed = dict(claims)
            key = rng.choice(("room", "role", "sub", "exp", "lobby", "v"))
            changed[key] = rng.choice(("host", "other-room", 2**40, False, None, 9))
            candidate = f"{_b64encode(msgpack.packb(changed))}.{signature}"
        else:
            candidate = "".join(rng.choice(ALPHABET + ".") for _ in range(rng.randint(0, 400)))
        if candidate == token or (genuine is not None and _decoded(candidate) == genuine):
            continue
        made += 1
        yield kind, candidate


def _request(url: str, headers: dict[str, str], data: bytes | None = None) -> tuple[int, bytes]:
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


async def _join_answer(conn: RawConnection, token: str, ref: str) -> dict[str, object]:
    await conn.send_frame({"type": "join", "token": token, "id": ref})
    while (frame := await conn.receive(ANSWER_TIMEOUT_S)) is not None:
        if frame.get("ref") == ref:
            return frame
    return {"type": "closed", "close_code": conn.ws.close_code}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(tmp_path_factory.mktemp("token-fuzz")) as running:
        yield running


def _book(service: RunningService, slot_index: int) -> dict[str, str]:
    base = service.base_url + "/api"
    _, body = _request(base + "/motifs/demo-motif-info/slots", {})
    soon = datetime.now(UTC) + timedelta(hours=1)
    slots = [s for s in json.loads(body)["slots"] if datetime.fromisoformat(s["start"]) > soon]
    booking = {
        "motif_id": "demo-motif-info",
        "start": slots[slot_index]["start"],
        "citizen": {"name": "Jeanne Dupont", "email": "jeanne@example.org"},
    }
    status, body = _request(
        base + "/bookings", {"Content-Type": "application/json"}, json.dumps(booking).encode()
    )
    assert status == 201, body
    created = json.loads(body)
    return {
        "id": created["id"],
        "join": created["join_url"].split("#token=", 1)[1],
        "manage": created["manage_url"].split("#token=", 1)[1],
    }


async def test_tampered_join_tokens_open_no_room_and_no_document(service: RunningService) -> None:
    booking, another = _book(service, 0), _book(service, 2)
    files = f"{service.base_url}/api/bookings/{booking['id']}/files"
    status, _ = _request(files, {"Authorization": f"Bearer {booking['join']}"})
    assert status == 200, "the genuine token must open the documents"
    problems = []
    conn: RawConnection | None = None
    try:
        for index, (kind, token) in enumerate(
            mutations(booking["join"], another["join"], SEED, MUTATIONS)
        ):
            status, body = _request(files, {"Authorization": f"Bearer {token}"})
            if status not in (401, 403):
                problems.append(
                    f"{kind} {token[:60]!r}…: documents answered {status} {body[:80]!r}"
                )
            if index % TOKENS_PER_SOCKET == 0 or conn is None:  # well within the join timeout
                if conn is not None:
                    await conn.close()
                conn = await RawConnection.open(service.ws_url, binary=False)
            frame = await _join_answer(conn, token, f"j{index}")
            code = str(frame.get("code"))
            if frame.get("type") != "error" or not (
                code.startswith("token-") or code == "bad-field"
            ):
                problems.append(f"{kind} {token[:60]!r}…: join answered {frame}")
                await conn.close()
                conn = None
            await asyncio.sleep(0.05)  # under the per-connection rate limit
    finally:
        if conn is not None:
            await conn.close()
    assert not problems, "tampered tokens accepted:\n  " + "\n  ".join(problems[:40])


async def test_a_cancelled_bookings_join_token_opens_no_room(service: RunningService) -> None:
    booking = _book(service, 4)
    base = service.base_url + "/api"
    status, body = _request(f"{base}/manage/{booking['manage']}/cancel", {}, b"{}")
    assert status == 200, body
    conn = await RawConnection.open(service.ws_url, binary=False)
    try:
        frame = await _join_answer(conn, booking["join"], "after-cancel")
    finally:
        await conn.close()
    code = str(frame.get("code"))
    refused = frame.get("type") == "error" and code.startswith(("token-", "booking-"))
    assert refused, f"a cancelled booking's join token was answered {frame}"
