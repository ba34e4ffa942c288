"""How the benches and the browser tests start Chromium: Debian's binary, with no outside
connections, real local ICE candidates (loopback included, no mDNS names) and fake media."""

from __future__ import annotations

CHROMIUM_PATH = "/usr/bin/chromium"

CHROMIUM_FLAGS: tuple[str, ...] = (
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
