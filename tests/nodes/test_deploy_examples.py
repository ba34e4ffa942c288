"""The example configurations of deploy/ work as shipped: nginx, run from the example
(ports, certificate and temp paths rewritten to the test's), in front of a node passes
HTTP, the WebSocket upgrade and the client's address; the systemd unit is valid and
its command line is one ``visioguichet`` accepts."""

from __future__ import annotations

import asyncio
import datetime
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.server import RunningService, free_port, run_service
from visioguichet.cli import build_parser

pytestmark = pytest.mark.timeout(120)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PROXY_ADDRESS = "127.0.0.2"  # nginx's side of its connections to the node
AGENT = "agent@demo.visioguichet.fr"
SSL_CLOSE_GRACE_S = 0.25


def _nginx_binary() -> str:
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if binary is None:
        pytest.skip("nginx is not installed (scripts/install.sh test installs it)")
    return binary


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "visio.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _rewrite(text: str, old: str, new: str) -> str:
    assert old in text, f"the example no longer holds {old!r}"
    return text.replace(old, new)


@dataclass
class Proxy:
    https_url: str
    http_url: str
    node: RunningService


@pytest.fixture
def proxied_node(tmp_path: Path) -> Iterator[Proxy]:
    nginx = _nginx_binary()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    cert, key = _self_signed(prefix)
    https_port, http_port = free_port(), free_port()
    with run_service(tmp_path / "node", extra_args=("--trusted-proxy", PROXY_ADDRESS)) as node:
        site = (DEPLOY / "nginx" / "visioguichet.conf").read_text()
        site = _rewrite(site, "server 127.0.0.1:8080;", f"server {node.base_url[7:]};")
        site = _rewrite(site, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
        site = _rewrite(site, "listen 80;", f"listen 127.0.0.1:{http_port};")
        site = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", site)
        site = _rewrite(site, "/etc/letsencrypt/live/visio.example.org/fullchain.pem", str(cert))
        site = _rewrite(site, "/etc/letsencrypt/live/visio.example.org/privkey.pem", str(key))
        (prefix / "visioguichet.conf").write_text(site)
        temp_paths = "\n".join(
            f"    {kind}_temp_path {prefix}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (prefix / "nginx.conf").write_text(
            ("user root;\n" if os.geteuid() == 0 else "")
            + f"worker_processes 1;\npid {prefix}/nginx.pid;\nerror_log {prefix}/error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{\n    access_log off;\n{temp_paths}\n"
            # Loopback stands for two hosts: nginx reaches the node from its own address.
            f"    proxy_bind {PROXY_ADDRESS};\n"
            f"    include {prefix}/visioguichet.conf;\n}}\n"
        )
        process = subprocess.Popen(
            [nginx, "-e", str(prefix / "error.log"), "-p", str(prefix),
             "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", https_port), 1).close()
                    break
                except OSError:
                    error_log = prefix / "error.log"
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError(
                            "nginx did not start: "
                            + (error_log.read_text() if error_log.exists() else "")
                        ) from None
                    time.sleep(0.05)
            yield Proxy(f"https://127.0.0.1:{https_port}", f"http://127.0.0.1:{http_port}", node)
        finally:
            process.terminate()
            process.wait(timeout=10)


@asynccontextmanager
async def _client_from(address: str) -> AsyncIterator[aiohttp.ClientSession]:
    """A client whose connections come from ``address`` (a host of its own on loopback).

    Its TLS connections are closed before the test's loop ends: a socket the loop never
    got round to closing is an unclosed-transport warning in whichever test comes next.
    Closing the session aborts pooled connections, but a connection closed on its own
    (a WebSocket's, or one the server ended) shuts TLS down on later turns of the loop;
    aiohttp's guidance is to give it a quarter of a second."""
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=False, local_addr=(address, 0))
    )
    try:
        yield session
    finally:
        await session.close()
        await asyncio.sleep(SSL_CLOSE_GRACE_S)


async def test_nginx_example_passes_http_and_redirects_plain_http(proxied_node: Proxy) -> None:
    async with _client_from("127.0.0.3") as client:
        async with client.get(proxied_node.https_url + "/healthz") as health:
            assert health.status == 200 and (await health.json()) == {"status": "ok"}
        async with client.get(proxied_node.http_url + "/healthz", allow_redirects=False) as plain:
            assert plain.status == 301 and plain.headers["Location"].startswith("https://")


async def test_nginx_example_upgrades_the_call_websocket(proxied_node: Proxy) -> None:
    token = proxied_node.node.mint(room="proxy-room", role="host", subject="agent:1", name="Agente")
    async with (
        _client_from("127.0.0.3") as client,
        client.ws_connect(proxied_node.https_url.replace("https", "wss", 1) + "/ws") as ws,
    ):
        await ws.send_json({"type": "join", "token": token, "protocol": 1, "id": "1"})
        reply = await asyncio.wait_for(ws.receive_json(), 10)
        assert reply["type"] == "joined", reply


async def _login(client: aiohttp.ClientSession, url: str, **headers: str) -> int:
    async with client.post(
        url + "/api/auth/login",
        json={"email": AGENT, "password": "wrong-password"},
        headers=headers,
    ) as response:
        return response.status


async def test_nginx_example_passes_the_client_address_and_drops_a_forged_one(
    proxied_node: Proxy,
) -> None:
    url = proxied_node.https_url
    async with _client_from("127.0.0.3") as guesser:
        assert [await _login(guesser, url) for _ in range(6)] == [401] * 5 + [429]
        # A forged header of its own does not make the guesser someone else.
        assert await _login(guesser, url, **{"X-Forwarded-For": "198.51.100.1"}) == 429
    async with _client_from("127.0.0.4") as someone_else:
        # Another client (another address behind the same proxy) is not locked out.
        assert await _login(someone_else, url) == 401


def test_systemd_example_is_a_valid_unit_running_a_command_visioguichet_accepts() -> None:
    unit = (DEPLOY / "systemd" / "visioguichet.service").read_text()
    exec_start = re.search(r"^ExecStart=(.+)$", unit, re.MULTILINE)
    assert exec_start is not None
    argv = shlex.split(exec_start.group(1))
    assert Path(argv[0]).name == "visioguichet"
    args = build_parser().parse_args(argv[1:])
    assert args.command == "serve" and args.nodes >= 1
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        return
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(DEPLOY / "systemd" / "visioguichet.service")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    # Paths of the target machine (the virtualenv, the user) are absent here; the
    # syntax and every directive must still be known.
    problems = [
        line for line in result.stderr.splitlines()
        if "Unknown" in line or "Invalid" in line or "Failed to parse" in line
    ]  # fmt: skip
    assert problems == []
