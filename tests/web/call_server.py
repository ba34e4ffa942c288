"""The call part of the service (pages, signalling, SFU) in this process, on its own loop
thread, so a browser test can make one participant's downlink bad with the SFU's test
impairment shim (``sfu/impairment.py``), which the production CLI never enables.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.sync_api import Browser, Page, expect

import signaling
from sfu import Sfu, SfuConfig
from tests.support.quality_log import QualityLog
from tests.support.server import free_port
from tests.web.journeys import wait_for_remote_media
from visioguichet.app import GrantVerifier, add_web_pages, healthz
from visioguichet.join_token import JoinTokenSigner, load_or_create_signer

START_TIMEOUT_S = 20.0
HOLD_S = 2.0


@dataclass
class CallServer:
    base_url: str
    sfu: Sfu
    signer: JoinTokenSigner
    loop: asyncio.AbstractEventLoop

    def mint(self, *, room: str, role: str, subject: str, name: str, lobby: bool = False) -> str:
        return self.signer.mint(
            room=room,
            role=role,  # type: ignore[arg-type]
            subject=subject,
            name=name,
            expires_at=time.time() + 3600,
            lobby=lobby,
        )

    def impair(self, room: str, participant_id: str, *, loss: float) -> None:
        """Drop this share of what the SFU sends to that participant (0 heals the link)."""

        async def apply() -> None:
            found = self.sfu.get_room(room)
            participant = found.get_participant(participant_id) if found else None
            if participant is None:
                raise LookupError(f"{participant_id} is not in {room}")
            participant.set_test_impairment(loss=loss)

        future: Future[Any] = asyncio.run_coroutine_threadsafe(apply(), self.loop)
        future.result(timeout=10)

    def quality_log(self, room: str) -> QualityLog:
        """Every quality report of ``room`` from now on: why a page shows a banner."""
        log = QualityLog()

        async def attach() -> None:
            found = self.sfu.get_room(room)
            if found is None:
                raise LookupError(f"no room {room}")
            found.add_listener(log)

        asyncio.run_coroutine_threadsafe(attach(), self.loop).result(timeout=10)
        return log


@contextlib.contextmanager
def run_call_server(data_dir: Path) -> Iterator[CallServer]:
    """Serve /call, /static, /healthz and /ws on 127.0.0.1 until the block ends."""
    loop = asyncio.new_event_loop()
    started: Future[CallServer] = Future()
    stop = asyncio.Event()

    async def main() -> None:
        sfu = Sfu(
            SfuConfig(
                ice_addresses=("127.0.0.1",),
                allowed_remote_networks=("127.0.0.0/8",),
                allow_test_impairment=True,
                video_resume_hold_s=HOLD_S,
            )
        )
        signer = load_or_create_signer(data_dir / "join-token.key")
        server = signaling.SignalingServer(sfu, GrantVerifier(signer.verifier))
        app = web.Application()
        app.router.add_get("/ws", server.handle)
        app.router.add_get("/healthz", healthz)
        add_web_pages(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        started.set_result(CallServer(f"http://127.0.0.1:{port}", sfu, signer, loop))
        try:
            await stop.wait()
        finally:
            await server.close()
            await sfu.close()
            await runner.cleanup()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the test through the future
            if not started.done():
                started.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="call-server", daemon=True)
    thread.start()
    try:
        yield started.result(timeout=START_TIMEOUT_S)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=START_TIMEOUT_S)


def enter(browser: Browser, server: CallServer, token: str, init_script: str = "") -> Page:
    """A new French-speaking page that opens the call room with ``token`` and enters."""
    page = browser.new_context(locale="fr-FR").new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{server.base_url}/call#token={token}")
    page.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=20_000)
    return page


def open_call(
    browser: Browser, server: CallServer, room: str, init_script: str = ""
) -> tuple[Page, Page]:
    """Agent, then citizen, in ``room``; returns (agent, citizen) once both receive media."""
    agent = enter(
        browser,
        server,
        server.mint(room=room, role="host", subject="agent-1", name="Claire Martin"),
        init_script,
    )
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)
    citizen = enter(
        browser,
        server,
        server.mint(room=room, role="guest", subject="citizen-1", name="Jean Dupont"),
    )
    wait_for_remote_media(citizen)
    wait_for_remote_media(agent)
    return agent, citizen
