"""When the SFU drops a citizen to audio only (a bad downlink), the call room says so, the
sound goes on, and the picture comes back once the link heals; "Audio seul" does the same
by choice."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.web.accessibility import blocking_violations
from tests.web.call_server import CallServer, enter, open_call, run_call_server
from tests.web.journeys import assert_media_resumes, inbound, wait_for_remote_media

pytestmark = [pytest.mark.slow, pytest.mark.browser]

BANNER_TIMEOUT_MS = 25_000
LINK_DOWN = "Connexion faible : audio seulement. La vidéo reviendra dès que possible."
BY_CHOICE = "Audio seulement : vous avez choisi de ne pas recevoir la vidéo."


@pytest.fixture(scope="module")
def call_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CallServer]:
    with run_call_server(tmp_path_factory.mktemp("call-server")) as server:
        yield server


def grows(page: Page, key: str, wait_ms: int = 1500) -> bool:
    before = inbound(page)[key]
    page.wait_for_timeout(wait_ms)
    return bool(inbound(page)[key] > before)


def test_audio_only_banner_follows_the_sfu_fallback_and_recovery(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-quality-{uuid.uuid4().hex[:8]}"
    agent, citizen = open_call(browser, call_server, room)
    quality = call_server.quality_log(room)
    banner = citizen.locator("#audio-banner")
    indicator = citizen.locator("#quality")
    expect(indicator).to_have_text("Connexion : bonne", timeout=BANNER_TIMEOUT_MS)
    expect(banner).to_be_hidden()

    call_server.impair(room, "citizen-1", loss=0.5)
    expect(banner).to_be_visible(timeout=BANNER_TIMEOUT_MS)
    expect(banner).to_have_text(LINK_DOWN)
    expect(banner).to_have_attribute("role", "alert")
    assert banner.get_attribute("data-reason") in ("loss", "bandwidth")
    expect(indicator).to_have_text("Connexion : faible")
    assert grows(citizen, "audioPackets"), "the sound must go on in audio only"
    try:
        expect(agent.locator("#audio-banner")).to_be_hidden()  # the agent's link is fine
    except AssertionError as error:
        raise AssertionError(f"the SFU's view of the agent: {quality.of('agent-1')}") from error
    assert blocking_violations(citizen) == []

    call_server.impair(room, "citizen-1", loss=0.0)
    expect(banner).to_be_hidden(timeout=BANNER_TIMEOUT_MS)
    citizen.wait_for_function(
        "() => document.getElementById('quality').dataset.level !== 'poor'",
        timeout=BANNER_TIMEOUT_MS,
    )
    assert grows(citizen, "framesDecoded", 2500), "video must come back after recovery"

    audio_only = citizen.get_by_role("button", name="Audio seul")
    audio_only.click()
    expect(audio_only).to_have_attribute("aria-pressed", "true")
    expect(banner).to_have_text(BY_CHOICE, timeout=BANNER_TIMEOUT_MS)
    expect(banner).to_have_attribute("data-reason", "user")
    audio_only.click()
    expect(banner).to_be_hidden(timeout=BANNER_TIMEOUT_MS)
    for page in (agent, citizen):
        page.context.close()


def test_call_comes_back_by_itself_after_the_signalling_connection_drops(
    browser: Browser, call_server: CallServer
) -> None:
    room = f"bk-reconnect-{uuid.uuid4().hex[:8]}"
    agent = enter(
        browser,
        call_server,
        call_server.mint(room=room, role="host", subject="agent-1", name="Claire Martin"),
    )
    expect(agent.get_by_role("button", name="Terminer pour tous")).to_be_visible(timeout=20_000)
    citizen = enter(
        browser,
        call_server,
        call_server.mint(
            room=room, role="guest", subject="citizen-1", name="Jean Dupont", lobby=True
        ),
    )
    agent.get_by_role("button", name="Faire entrer Jean Dupont").click(timeout=20_000)
    wait_for_remote_media(citizen)
    wait_for_remote_media(agent)

    # The network drops the socket (as when a phone changes network): the page joins
    # again by itself, is not sent back to the waiting room, and media starts over.
    citizen.evaluate(
        "() => { const vg = window.visioguichet; window.oldPublish = vg.publishPc; "
        "vg.signaling.socket.close(4001, 'network change'); }"
    )
    citizen.wait_for_function(
        "() => { const vg = window.visioguichet; return vg.publishPc "
        "&& vg.publishPc !== window.oldPublish && vg.publishPc.connectionState === 'connected'; }",
        timeout=30_000,
    )
    expect(citizen.get_by_role("heading", name="Salle d'attente")).to_be_hidden()
    expect(citizen.locator("#status")).to_contain_text("communication", timeout=20_000)
    assert_media_resumes(citizen)
    assert_media_resumes(agent)
    for page in (agent, citizen):
        page.context.close()
