"""Janus Gateway (VideoRoom) as the C reference, run by the bench in its own namespace.

Janus never gathers ICE candidates on loopback, and media may only go to 127.0.0.1 or
to namespaces we create. So the bench creates a network namespace with a veth pair,
runs Janus inside it on the namespace address, points the bots at that address, and
removes everything at the end. The config lives in ``bench/janus/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import string
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "janus"
LIB_DIR = Path("/usr/lib/x86_64-linux-gnu/janus")
NAMESPACE = "vgbench-janus"
HOST_IF = "vgb-host"
JANUS_IF = "vgb-janus"
HOST_ADDRESS = "10.201.0.1"
JANUS_ADDRESS = "10.201.0.2"
HTTP_PORT = 8088
START_TIMEOUT_S = 15.0
INSTALL_TIMEOUT_S = 240.0


class JanusUnavailable(RuntimeError):
    """Janus cannot be installed or run here (the reason is the message)."""


def _run(*args: str, timeout: float = 20.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=check)


def ensure_installed() -> str:
    """Install the Debian package if needed (idempotent); returns the janus binary."""
    found = shutil.which("janus")
    if found and (LIB_DIR / "plugins" / "libjanus_videoroom.so").exists():
        return found
    if shutil.which("apt-get") is None:
        raise JanusUnavailable("janus is not installed and apt-get is not available")
    try:
        result = _run(
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "janus",
            timeout=INSTALL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise JanusUnavailable(f"apt-get install janus failed: {exc}") from exc
    found = shutil.which("janus")
    if result.returncode != 0 or not found:
        raise JanusUnavailable(f"apt-get install janus failed: {result.stderr.strip()[-400:]}")
    return found


def _remove_namespace() -> None:
    _run("ip", "link", "del", HOST_IF, check=False)
    _run("ip", "netns", "del", NAMESPACE, check=False)


def _create_namespace() -> None:
    _remove_namespace()  # a crashed earlier run may have left it behind
    commands = [
        ("ip", "netns", "add", NAMESPACE),
        ("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", JANUS_IF),
        ("ip", "link", "set", JANUS_IF, "netns", NAMESPACE),
        ("ip", "addr", "add", f"{HOST_ADDRESS}/30", "dev", HOST_IF),
        ("ip", "link", "set", HOST_IF, "up"),
        (
            "ip",
            "netns",
            "exec",
            NAMESPACE,
            "ip",
            "addr",
            "add",
            f"{JANUS_ADDRESS}/30",
            "dev",
            JANUS_IF,
        ),
        ("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", JANUS_IF, "up"),
        ("ip", "netns", "exec", NAMESPACE, "ip", "link", "set", "lo", "up"),
    ]
    for command in commands:
        result = _run(*command, check=False)
        if result.returncode != 0:
            _remove_namespace()
            raise JanusUnavailable(
                f"cannot create the network namespace ({' '.join(command)}): "
                f"{result.stderr.strip()}"
            )


def _render_config(work: Path) -> Path:
    conf = work / "conf"
    plugins, transports, empty = work / "plugins", work / "transports", work / "empty"
    for folder in (conf, plugins, transports, empty):
        folder.mkdir(parents=True)
    (plugins / "libjanus_videoroom.so").symlink_to(LIB_DIR / "plugins" / "libjanus_videoroom.so")
    (transports / "libjanus_http.so").symlink_to(LIB_DIR / "transports" / "libjanus_http.so")
    values = {
        "configs_folder": str(conf),
        "plugins_folder": str(plugins),
        "transports_folder": str(transports),
        "empty_folder": str(empty),
        "ice_interface": JANUS_IF,
        "http_port": str(HTTP_PORT),
        "http_address": JANUS_ADDRESS,
        "acl": HOST_ADDRESS.rsplit(".", 1)[0] + ".",
    }
    for template in CONFIG_DIR.glob("*.jcfg"):
        text = string.Template(template.read_text()).substitute(values)
        (conf / template.name).write_text(text)
    return conf


def _pinning(core: int | None) -> Callable[[], None] | None:
    if core is None:
        return None

    def pin() -> None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {core})

    return pin


@dataclass
class RunningJanus:
    pid: int
    api_url: str  # http://10.201.0.2:8088/janus
    client_address: str  # the host-side veth address bots gather ICE on
    log_path: Path


def _answers_info(api_url: str) -> bool:
    body = json.dumps({"janus": "info", "transaction": "probe"}).encode()
    request = urllib.request.Request(api_url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=1.0) as response:
            return json.load(response).get("janus") == "server_info"
    except OSError:
        return False


@contextlib.contextmanager
def run_janus(log_dir: Path | None = None, core: int | None = None) -> Iterator[RunningJanus]:
    """Install if needed, create the namespace, start Janus (pinned to ``core`` if
    given, like our SFU); undo it all on exit."""
    binary = ensure_installed()
    if shutil.which("ip") is None:
        raise JanusUnavailable("the 'ip' command (iproute2) is missing")
    with tempfile.TemporaryDirectory(prefix="vgbench-janus-") as tmp:
        work = Path(tmp)
        conf = _render_config(work)
        log_path = (log_dir or work) / "janus.log"
        _create_namespace()
        process: subprocess.Popen[bytes] | None = None
        try:
            process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    NAMESPACE,
                    binary,
                    "-F",
                    str(conf),
                    "-C",
                    str(conf / "janus.jcfg"),
                    "-d",
                    "3",
                    "-o",
                    "-L",
                    str(log_path),
                    "-N",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                preexec_fn=_pinning(core),
            )
            api_url = f"http://{JANUS_ADDRESS}:{HTTP_PORT}/janus"
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers_info(api_url):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-800:] if log_path.exists() else ""
                    raise JanusUnavailable(f"janus did not start: {tail}")
                time.sleep(0.1)
            log.info("janus_started", pid=process.pid, api=api_url)
            yield RunningJanus(process.pid, api_url, HOST_ADDRESS, log_path)
        finally:
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            _remove_namespace()
