"""Headless Chromium for browser tests: Debian's binary, fake media, loopback-only WebRTC.

The flags keep Chromium from reaching anything outside the machine and let its ICE agent
offer 127.0.0.1 candidates (``--allow-loopback-in-peer-connection``) under their real
address rather than an mDNS name the SFU would have to resolve.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from playwright.sync_api import Browser, sync_playwright

from bench.chromium import CHROMIUM_FLAGS, CHROMIUM_PATH


@contextlib.contextmanager
def launch_chromium() -> Iterator[Browser]:
    """A headless Chromium with fake camera and microphone; closed on exit."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM_PATH, headless=True, args=list(CHROMIUM_FLAGS)
        )
        try:
            yield browser
        finally:
            browser.close()
