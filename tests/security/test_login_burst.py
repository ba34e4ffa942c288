"""Password guessing in bursts, on the real service: refused, slowed, never a crash.

A guesser does not wait for one answer before the next: 200 wrong passwords for the same
account, 50 at a time, then for accounts that do not exist. Every answer must be 401 or
429 (the latter with ``Retry-After``), and the service must still answer afterwards.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from tests.support.server import RunningService, run_service

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

GUESSES = 200
AT_ONCE = 50


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    with run_service(tmp_path_factory.mktemp("login-burst")) as running:
        yield running


async def _guess(http: aiohttp.ClientSession, url: str, email: str, n: int) -> tuple[int, bool]:
    async with http.post(url, json={"email": email, "password": f"guess-{n}"}) as answer:
        await answer.read()
        return answer.status, "Retry-After" in answer.headers


async def test_bursts_of_wrong_passwords_get_401_or_429_and_never_a_crash(
    service: RunningService,
) -> None:
    url = service.base_url + "/api/auth/login"
    answers: Counter[tuple[int, bool]] = Counter()
    connector = aiohttp.TCPConnector(limit=AT_ONCE)
    async with aiohttp.ClientSession(connector=connector) as http:
        for email in ("agent@demo.visioguichet.fr", "nobody-{n}@example.org"):
            for start in range(0, GUESSES, AT_ONCE):
                batch = [
                    _guess(http, url, email.format(n=n), n) for n in range(start, start + AT_ONCE)
                ]
                answers.update(await asyncio.gather(*batch))
        async with http.get(service.base_url + "/healthz") as health:
            assert health.status == 200
    wrong = {key: count for key, count in answers.items() if key not in ((401, False), (429, True))}
    assert not wrong, f"answers (status, Retry-After) beyond 401 and 429: {dict(answers)}"
    assert answers[(429, True)] > 0, f"the guessing was never slowed down: {dict(answers)}"
