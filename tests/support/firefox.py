"""Debian's Firefox ESR for browser tests, driven over WebDriver BiDi by a small client
of our own (aiohttp's WebSocket client): a tab, ``navigate``, ``evaluate`` with a user
gesture. No driver binary and no second language's package tree: the tests need these
three commands, and the protocol is JSON over one WebSocket.

Firefox gathers no ICE candidate on loopback, so a call test runs it inside a network
namespace (``bench/real_link.py``) where its only address is the namespace's end of a
veth pair. Its BiDi server then listens on the namespace's own 127.0.0.1: the client's
event loop runs on a thread that entered the namespace (``setns``), so the sockets it
opens are made there.

Fake camera and microphone, no permission prompt, real host addresses in ICE (no mDNS
name), autoplay allowed; ``secure_hosts`` are secure contexts though served over http.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

FIREFOX_PATH = "/usr/bin/firefox-esr"
START_TIMEOUT_S = 40.0
COMMAND_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
CLONE_NEWNET = 0x40000000

T = TypeVar("T")

PREFS: dict[str, object] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "app.update.disabledForTesting": True,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
}


class BidiError(RuntimeError):
    """A command Firefox answered with an error, or a script that threw."""


def _enter_namespace(namespace: str) -> None:
    """This thread (only) moves into ``namespace``: sockets it opens are made there."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {namespace}: {os.strerror(errno)}")
    finally:
        os.close(fd)


class EventLoopThread:
    """An asyncio loop on a thread of its own, in ``namespace`` when one is given."""

    def __init__(self, namespace: str | None) -> None:
        self.loop = asyncio.new_event_loop()
        ready: list[BaseException | None] = []
        started = threading.Event()

        def run() -> None:
            try:
                if namespace:
                    _enter_namespace(namespace)
                ready.append(None)
            except BaseException as exc:  # handed to the starting thread
                ready.append(exc)
                return
            finally:
                started.set()
            asyncio.set_event_loop(self.loop)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="firefox-bidi", daemon=True)
        self.thread.start()
        started.wait(10)
        if not ready or ready[0] is not None:
            raise RuntimeError(f"BiDi client thread did not start: {ready}")

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = COMMAND_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class _Bidi:
    """One BiDi session: commands answered by id; events are not needed here."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def connect(self, url: str) -> None:
        self._http = aiohttp.ClientSession()
        self._ws = await self._http.ws_connect(f"{url}/session", max_msg_size=0)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            future = self._waiting.pop(data.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(data)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(BidiError("BiDi connection closed"))

    async def command(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        assert self._ws is not None
        self._next += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = future
        await self._ws.send_json({"id": self._next, "method": method, "params": params})
        reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
        if reply.get("type") == "error":
            raise BidiError(f"{method}: {reply.get('error')}: {reply.get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def close(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.command("session.end", {}), 5)
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._http is not None:
            await self._http.close()


class FirefoxPage:
    """Firefox's first tab: navigate, evaluate (with a user gesture: clicks open media)."""

    def __init__(self, loop: EventLoopThread, bidi: _Bidi, context: str) -> None:
        self._loop = loop
        self._bidi = bidi
        self.context = context

    def goto(self, url: str) -> None:
        self._loop.run(
            self._bidi.command(
                "browsingContext.navigate",
                {"context": self.context, "url": url, "wait": "complete"},
            )
        )

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited if a promise), through JSON."""
        wrapped = f"(async () => JSON.stringify(await ({expression})))()"
        result = self._loop.run(
            self._bidi.command(
                "script.evaluate",
                {
                    "expression": wrapped,
                    "target": {"context": self.context},
                    "awaitPromise": True,
                    "userActivation": True,
                    "resultOwnership": "none",
                },
            )
        )
        if result.get("type") == "exception":
            details = result.get("exceptionDetails", {})
            raise BidiError(f"script threw: {details.get('text')}")
        value = result.get("result", {})
        if value.get("type") != "string":
            return None
        return json.loads(value["value"])

    def wait_for(self, expression: str, what: str, timeout_s: float) -> Any:
        """Poll ``expression`` until it is truthy (bounded); its value."""
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"Firefox: {what} not within {timeout_s} s (last: {value!r})")
            time.sleep(0.25)


def _write_profile(profile: Path, secure_hosts: Sequence[str]) -> None:
    profile.mkdir(parents=True, exist_ok=True)
    prefs = dict(PREFS)
    if secure_hosts:
        # getUserMedia exists only in secure contexts: plain http is one only on localhost
        prefs["dom.securecontext.allowlist"] = ",".join(secure_hosts)
    lines = [
        f"user_pref({json.dumps(name)}, {json.dumps(value)});" for name, value in prefs.items()
    ]
    (profile / "user.js").write_text("\n".join(lines) + "\n")


def _bidi_url(log_path: Path, process: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    marker = "WebDriver BiDi listening on "
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Firefox exited: {log_path.read_text(errors='replace')}")
        for line in log_path.read_text(errors="replace").splitlines():
            if marker in line:
                return line.split(marker, 1)[1].strip()
        time.sleep(0.1)
    raise RuntimeError(f"Firefox's BiDi server did not start within {START_TIMEOUT_S} s")


@contextlib.contextmanager
def launch_firefox(
    scratch: Path, *, namespace: str | None = None, secure_hosts: Sequence[str] = ()
) -> Iterator[FirefoxPage]:
    """A headless Firefox ESR (in ``namespace`` if given) and its first tab; gone on exit."""
    if shutil.which(FIREFOX_PATH) is None:
        raise RuntimeError(
            f"{FIREFOX_PATH} missing: install Debian's firefox-esr (scripts/install.sh test does)"
        )
    profile = scratch / "firefox-profile"
    _write_profile(profile, secure_hosts)
    argv = [
        FIREFOX_PATH, "--headless", "--no-remote", "--profile", str(profile),
        "--remote-debugging-port", "0", "about:blank",
    ]  # fmt: skip
    if namespace:
        argv = ["ip", "netns", "exec", namespace, *argv]
    log_path = scratch / "firefox.log"
    env = dict(os.environ, MOZ_HEADLESS="1", HOME=str(scratch))
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(argv, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    loop: EventLoopThread | None = None
    bidi = _Bidi()
    try:
        url = _bidi_url(log_path, process)
        loop = EventLoopThread(namespace)
        loop.run(bidi.connect(url))
        loop.run(bidi.command("session.new", {"capabilities": {}}))
        tree = loop.run(bidi.command("browsingContext.getTree", {}))
        yield FirefoxPage(loop, bidi, tree["contexts"][0]["context"])
    finally:
        if loop is not None:
            with contextlib.suppress(Exception):
                loop.run(bidi.close(), timeout=STOP_TIMEOUT_S)
            loop.close()
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)
