"""One real call across a real link: the service on the host, the agent's Chromium on the
host, the citizen's Chromium inside the link's namespace, both on the real call page.

The service (``python -m visioguichet serve``) listens on the host's end of the pair and
gathers ICE candidates there only; it accepts remote candidates from the pair's /30
alone, so the citizen's media crosses the shaped veth and the agent's stays on the host.
The citizen's page records, in the page itself (no round trip to the driver per sample):

- every 250 ms, ``getStats`` of its receiving connection (inbound video: frames decoded,
  width, freezes, loss; inbound audio: concealed and received samples);
- every ``quality`` frame the SFU sends it (layer, audio only, estimate);
- every frame the remote video presents (``requestVideoFrameCallback``): gaps between
  them are what a person sees as a freeze, to the millisecond.

Times are the page's ``Date.now()``, the same clock as the driver's ``time.time()``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright

from bench.chromium import CHROMIUM_FLAGS, CHROMIUM_PATH
from bench.real_link import RealLink
from visioguichet.join_token import JoinTokenSigner, load_or_create_signer

START_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 10.0
JOIN_TIMEOUT_MS = 30_000
MEDIA_TIMEOUT_S = 45.0
AGENT_ID = "agent-1"
CITIZEN_ID = "citizen-1"


PROBE_JS = """
(() => {
  const probe = { quality: [], samples: [], frames: [] };
  window.__linkProbe = probe;
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        let frame;
        try { frame = JSON.parse(event.data); } catch { return; }
        if (frame && frame.type === "quality") probe.quality.push({ t: Date.now(), ...frame });
      });
    }
  };
  const pick = (r, keys) => Object.fromEntries(keys.map((k) => [k, r[k] ?? 0]));
  const VIDEO = ["framesDecoded", "frameWidth", "freezeCount", "totalFreezesDuration",
    "packetsLost", "packetsReceived", "bytesReceived", "keyFramesDecoded", "nackCount",
    "pliCount"];
  const AUDIO = ["concealedSamples", "totalSamplesReceived", "packetsLost", "packetsReceived",
    "concealmentEvents", "jitterBufferDelay", "jitterBufferEmittedCount"];
  async function sample() {
    const pc = window.visioguichet && window.visioguichet.subscribePc;
    if (!pc || pc.connectionState === "closed") return;
    const out = { t: Date.now(), video: null, audio: null };
    for (const r of (await pc.getStats()).values()) {
      if (r.type !== "inbound-rtp") continue;
      if (r.kind === "video" && (!out.video || (r.framesDecoded || 0) > out.video.framesDecoded)) {
        out.video = pick(r, VIDEO);
      }
      if (r.kind === "audio") out.audio = pick(r, AUDIO);
    }
    probe.samples.push(out);
  }
  setInterval(() => { sample().catch(() => {}); }, 250);
  const watch = () => {
    const video = document.getElementById("remote");
    if (!video || !video.requestVideoFrameCallback) { setTimeout(watch, 250); return; }
    const onFrame = (now, meta) => {
      probe.frames.push([Date.now(), meta.width]);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  watch();
})();
"""
PUBLISHED_JS = """
async () => {
  const pc = window.visioguichet && window.visioguichet.publishPc;
  const out = { layers: {}, available_outgoing_kbps: null, audio_target_kbps: null };
  if (!pc) return out;
  for (const r of (await pc.getStats()).values()) {
    if (r.type === "candidate-pair" && r.nominated && r.availableOutgoingBitrate) {
      out.available_outgoing_kbps = Math.round(r.availableOutgoingBitrate / 1000);
    }
    if (r.type === "outbound-rtp" && r.kind === "audio") {
      out.audio_target_kbps = Math.round((r.targetBitrate || 0) / 1000);
    }
    if (r.type !== "outbound-rtp" || r.kind !== "video") continue;
    out.layers[r.rid || ""] = { width: r.frameWidth || 0, fps: r.framesPerSecond || 0,
      limitation: r.qualityLimitationReason || "", active: r.active,
      target_kbps: Math.round((r.targetBitrate || 0) / 1000) };
  }
  return out;
}
"""
STEADY_JS = """
({ width, holdMs, gapMs }) => {
  const now = Date.now();
  const frames = window.__linkProbe ? window.__linkProbe.frames : [];
  const recent = frames.filter(([t]) => t >= now - holdMs);
  if (recent.length < 2 || recent[0][0] > now - holdMs + gapMs) return false;
  if (now - recent[recent.length - 1][0] > gapMs) return false;
  for (let i = 1; i < recent.length; i++) if (recent[i][0] - recent[i - 1][0] > gapMs) return false;
  return recent.every(([, w]) => w === width);
}
"""
LATEST_WIDTH_JS = """
() => {
  const samples = window.__linkProbe ? window.__linkProbe.samples : [];
  const last = samples[samples.length - 1];
  return last && last.video ? last.video.frameWidth : 0;
}
"""


def free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


@dataclass
class LinkService:
    """The real service, reachable from the host and from the namespace alike."""

    base_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def signer(self) -> JoinTokenSigner:
        return load_or_create_signer(self.data_dir / "join-token.key")

    def mint(self, *, room: str, role: str, subject: str, name: str) -> str:
        return self.signer.mint(
            room=room,
            role=role,  # type: ignore[arg-type]
            subject=subject,
            name=name,
            expires_at=time.time() + 3600,
            lobby=False,
        )


# pyproject.toml's ext-modules: the SFU's C datapath
DATAPATH_SOURCES = ("sfu/_datapath.c", "sfu/srtp_aead.c")


def committed_snapshot(directory: Path) -> Path:
    """The repository's last commit, exported to ``directory`` with its C datapath built:
    a working tree shared with people editing it may not even import mid-edit."""
    repo = Path(__file__).resolve().parent.parent
    directory.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "HEAD"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(directory)], input=archive.stdout, check=True)
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-O2", f"-I{include}", *DATAPATH_SOURCES, "-lcrypto",
         "-o", f"sfu/_datapath{suffix}"],
        cwd=directory,
        check=True,
    )  # fmt: skip
    return directory


@contextlib.contextmanager
def serve_on(link: RealLink, data_dir: Path, source: Path | None = None) -> Iterator[LinkService]:
    """``visioguichet serve`` on the host's end of ``link``, from ``source`` (a snapshot
    of the repository) or the installed package; stopped when the block ends."""
    data_dir.mkdir(parents=True, exist_ok=True)
    address = link.host_address
    port = free_port(address)
    args = [
        sys.executable, "-m", "visioguichet", "serve",
        "--data-dir", str(data_dir),
        "--host", address,
        "--port", str(port),
        "--ice-address", address,
        "--allow-remote-network", link.network,
        "--log-format", "json",
    ]  # fmt: skip
    log_path = data_dir / "service.log"
    with log_path.open("ab") as log_file:
        env = dict(os.environ, PYTHONPATH=str(source)) if source else None
        process = subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=source
        )
    service = LinkService(f"http://{address}:{port}", data_dir, process)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"service exited: {log_path.read_text(errors='replace')}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(service.base_url + "/healthz", timeout=2) as reply,
            ):
                if reply.status == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"service not healthy after {START_TIMEOUT_S} s")
            time.sleep(0.1)
        yield service
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT_S)


@dataclass
class Browsers:
    agent: Browser  # on the host
    citizen: Browser  # inside the link's namespace


@contextlib.contextmanager
def launch_browsers(
    playwright: Playwright, link: RealLink, service: LinkService, scratch: Path
) -> Iterator[Browsers]:
    """Two headless Chromiums: the agent's on the host, the citizen's behind the link."""
    # getUserMedia exists only in secure contexts, which plain http is only on localhost
    args = [*CHROMIUM_FLAGS, f"--unsafely-treat-insecure-origin-as-secure={service.base_url}"]
    agent = playwright.chromium.launch(executable_path=CHROMIUM_PATH, headless=True, args=args)
    try:
        citizen = playwright.chromium.launch(
            executable_path=str(link.chromium_wrapper(scratch)), headless=True, args=args
        )
        try:
            yield Browsers(agent, citizen)
        finally:
            citizen.close()
    finally:
        agent.close()


def _enter(browser: Browser, service: LinkService, token: str, probe: bool) -> Page:
    page = browser.new_context(locale="fr-FR").new_page()
    if probe:
        page.add_init_script(PROBE_JS)
    page.goto(f"{service.base_url}/call#token={token}")
    page.get_by_role("button", name="Entrer dans le rendez-vous").click(timeout=JOIN_TIMEOUT_MS)
    return page


@dataclass
class Call:
    """One call in progress; ``citizen`` carries the probe."""

    room: str
    agent: Page
    citizen: Page
    entered_at: float  # time.time() when the citizen entered
    last_probe: dict[str, Any] | None = None  # kept for a look after a surprising run
    service_log: Path | None = None  # the service's JSON log: the SFU's own account

    def service_events(self, event: str, since: float, until: float) -> list[dict[str, Any]]:
        """The service's log entries named ``event`` between two ``time.time()`` values
        (the bench runs one call at a time: they are this call's)."""
        if self.service_log is None or not self.service_log.exists():
            return []
        found = []
        with self.service_log.open(errors="replace") as lines:
            for line in lines:
                if f'"{event}"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    entry = json.loads(line)
                    at = datetime.fromisoformat(entry["timestamp"]).timestamp()
                    if entry.get("event") == event and since <= at <= until:
                        found.append({**entry, "at": at})
        return found

    def probe(self) -> dict[str, Any]:
        self.last_probe = dict(self.citizen.evaluate("() => window.__linkProbe"))
        return self.last_probe

    def latest_width(self) -> int:
        return int(self.citizen.evaluate(LATEST_WIDTH_JS))

    def published(self, page: Page) -> dict[str, Any]:
        """What ``page`` encodes per rid (width, fps, active, why it is limited), the
        send rate its browser estimates the link allows and its audio's target bitrate."""
        return dict(page.evaluate(PUBLISHED_JS))

    def set_quality(self, **frame: Any) -> None:
        """The citizen's own choice, as the page's menu sends it (``set-quality``)."""
        self.citizen.evaluate(
            "(frame) => window.visioguichet.signaling.send({type: 'set-quality', ...frame})",
            frame,
        )

    def close(self) -> None:
        for page in (self.citizen, self.agent):
            with contextlib.suppress(Exception):
                page.context.close()


def open_call(browsers: Browsers, service: LinkService, room: str) -> Call:
    """The agent enters, then the citizen; returns once the citizen decodes video."""
    agent = _enter(
        browsers.agent,
        service,
        service.mint(room=room, role="host", subject=AGENT_ID, name="Claire Martin"),
        probe=False,
    )
    call = Call(room, agent, agent, 0.0, service_log=service.data_dir / "service.log")
    try:
        agent.get_by_role("button", name="Terminer pour tous").wait_for(timeout=JOIN_TIMEOUT_MS)
        call.citizen = _enter(
            browsers.citizen,
            service,
            service.mint(room=room, role="guest", subject=CITIZEN_ID, name="Jean Dupont"),
            probe=True,
        )
        call.entered_at = time.time()
        deadline = time.monotonic() + MEDIA_TIMEOUT_S
        while call.latest_width() == 0:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no video at the citizen within {MEDIA_TIMEOUT_S} s")
            time.sleep(0.25)
    except BaseException:
        call.close()
        raise
    return call


def wait_for_steady(
    call: Call, width: int, timeout_s: float, hold_s: float = 3.0, max_gap_s: float = 0.5
) -> float | None:
    """Seconds until the citizen has shown ``width`` px video for ``hold_s`` with no gap
    over ``max_gap_s`` (None: not in time): a call's first seconds are no steady state."""
    started = time.monotonic()
    args = {"width": width, "holdMs": hold_s * 1000, "gapMs": max_gap_s * 1000}
    while time.monotonic() - started < timeout_s:
        if call.citizen.evaluate(STEADY_JS, args):
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def wait_for_width(call: Call, width: int, timeout_s: float) -> float | None:
    """Seconds until the citizen decodes ``width`` px wide video (None: not in time)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if call.latest_width() == width:
            return time.monotonic() - started
        time.sleep(0.25)
    return None
