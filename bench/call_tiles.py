"""``python -m bench.call_tiles``: what a viewer of a three-person call receives, with and
without the tiles' wanted layers.

Three headless Chromium pages (the fake camera, 960×540, sent as three simulcast layers
160/320/640 px wide) enter one call on the real call page; the SFU and signalling run in
this process on 127.0.0.1. The agent's page pins one participant (large) and shows the
other as a thumbnail. For ``--seconds`` it counts, from ``getStats`` of its subscribe
connection, the video bytes and the frame width it receives from each of the two.

Run twice in one process: ``without`` — the page's set-quality frames naming a
participant are dropped before they leave (what the page did before it sent the tiles'
sizes: each picture gets whatever the link carries), and ``with`` — as the page is.
Writes ``bench/results/call_tiles.json`` and ``call_tiles.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from playwright.sync_api import Browser, Page, sync_playwright

import signaling
from bench.chromium import CHROMIUM_FLAGS, CHROMIUM_PATH
from sfu import Sfu, SfuConfig
from visioguichet.app import GrantVerifier, add_web_pages
from visioguichet.join_token import JoinTokenSigner, Role, load_or_create_signer

RESULTS = Path(__file__).parent / "results"
SETTLE_TIMEOUT_S = 60.0

# Before the page sent its tiles' sizes: the same page with those frames kept back.
NO_TILE_SIZES_JS = """
(() => {
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    const tile = typeof data === "string" && data.includes('"set-quality"')
      && data.includes('"participant_id"');
    if (tile) return;
    return send.call(this, data);
  };
})();
"""
RECEIVED_JS = """
async () => {
  const call = window.visioguichet;
  const out = {};
  if (!call || !call.subscribePc) return out;
  for (const r of (await call.subscribePc.getStats()).values()) {
    if (r.type !== "inbound-rtp" || r.kind !== "video" || !r.mid) continue;
    const info = call.tracksByMid.get(r.mid);
    if (!info || info.source !== "camera") continue;
    out[info.participant_id] = {bytes: r.bytesReceived || 0, width: r.frameWidth || 0};
  }
  return out;
}
"""


@contextmanager
def call_service(data_dir: Path) -> Iterator[tuple[str, JoinTokenSigner]]:
    """Signalling, SFU and the call page on 127.0.0.1, on a loop thread of their own."""
    loop = asyncio.new_event_loop()
    started: Future[tuple[str, JoinTokenSigner]] = Future()
    stop = asyncio.Event()

    async def main() -> None:
        sfu = Sfu(SfuConfig(ice_addresses=("127.0.0.1",), allowed_remote_networks=("127.0.0.0/8",)))
        signer = load_or_create_signer(data_dir / "join-token.key")
        server = signaling.SignalingServer(sfu, GrantVerifier(signer.verifier))
        app = web.Application()
        app.router.add_get("/ws", server.handle)
        add_web_pages(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        started.set_result((f"http://127.0.0.1:{port}", signer))
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
        except BaseException as exc:
            if not started.done():
                started.set_exception(exc)
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="call-tiles", daemon=True)
    thread.start()
    try:
        yield started.result(timeout=30)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)


def enter(browser: Browser, base: str, token: str, init_script: str) -> Page:
    page = browser.new_context(locale="fr-FR").new_page()
    if init_script:
        page.add_init_script(init_script)
    page.goto(f"{base}/call#token={token}")
    page.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=30_000)
    return page


def measure(
    browser: Browser, base: str, signer: JoinTokenSigner, *, sizes: bool, seconds: float
) -> dict[str, Any]:
    room = f"tiles-{uuid.uuid4().hex[:8]}"
    script = "" if sizes else NO_TILE_SIZES_JS
    people: list[tuple[str, Role, str]] = [
        ("agent-1", "host", "Claire"),
        ("citizen-1", "guest", "Lucie"),
        ("lsf-1", "guest", "LSF"),
    ]
    pages = []
    for subject, role, name in people:
        token = signer.mint(
            room=room,
            role=role,
            subject=subject,
            name=name,
            expires_at=time.time() + 3600,
        )
        pages.append(enter(browser, base, token, script if subject == "agent-1" else ""))
    agent = pages[0]
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline and agent.locator("#tiles li").count() != 1:
        agent.wait_for_timeout(250)
    agent.get_by_role("button", name="Agrandir LSF").click(timeout=30_000)
    # the layers settle: the top one takes the link's ramp-up (a few seconds on loopback)
    agent.wait_for_timeout(8000)
    first = agent.evaluate(RECEIVED_JS)
    agent.wait_for_timeout(seconds * 1000)
    last = agent.evaluate(RECEIVED_JS)
    result = {
        who: {
            "kbps": round(
                8 * (last[who]["bytes"] - first.get(who, {}).get("bytes", 0)) / seconds / 1000, 1
            ),
            "width": last[who]["width"],
        }
        for who in ("lsf-1", "citizen-1")
        if who in last
    }
    for page in pages:
        page.context.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results: dict[str, Any] = {"seconds": args.seconds}
    with (
        tempfile.TemporaryDirectory(prefix="call-tiles-") as data_dir,
        call_service(Path(data_dir)) as (base, signer),
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, args=list(CHROMIUM_FLAGS)
        )
        try:
            results["without"] = measure(browser, base, signer, sizes=False, seconds=args.seconds)
            results["with"] = measure(browser, base, signer, sizes=True, seconds=args.seconds)
        finally:
            browser.close()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "call_tiles.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        "| tiles' sizes sent | pinned (large) kb/s, width | thumbnail kb/s, width | total kb/s |",
        "|---|---|---|---|",
    ]
    for label in ("without", "with"):
        got = results[label]
        pinned, thumb = got.get("lsf-1", {}), got.get("citizen-1", {})
        total = pinned.get("kbps", 0) + thumb.get("kbps", 0)
        rows.append(
            f"| {label} | {pinned.get('kbps')} , {pinned.get('width')} px | "
            f"{thumb.get('kbps')} , {thumb.get('width')} px | {round(total, 1)} |"
        )
    (args.out / "call_tiles.md").write_text("\n".join(rows) + "\n")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
