"""Simulcast negotiation: reading a publish offer's rids and answering their receive side.

The main test takes a real offer from headless Chromium publishing three encodings,
answers it with aiortc plus ``answer_with_simulcast``, and hands the answer back to
Chromium: Chromium keeps all three encodings only when the answer accepts simulcast.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from playwright.sync_api import Browser, Page

from sfu.simulcast_sdp import (
    REPAIRED_RID_URI,
    RID_URI,
    SimulcastOffer,
    answer_with_simulcast,
    parse_simulcast_offer,
)
from tests.support.browser import launch_chromium

PAGE_URL = "http://localhost/simulcast-offer"

OFFER_JS = """async () => {
  const stream = await navigator.mediaDevices.getUserMedia(
    {audio: true, video: {width: 1280, height: 720}});
  const pc = new RTCPeerConnection();
  window.pc = pc;
  pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly'});
  pc.addTransceiver(stream.getVideoTracks()[0], {direction: 'sendonly', sendEncodings: [
    {rid: 'q', scaleResolutionDownBy: 4},
    {rid: 'h', scaleResolutionDownBy: 2},
    {rid: 'f', scaleResolutionDownBy: 1}]});
  await pc.setLocalDescription(await pc.createOffer());
  return pc.localDescription.sdp;
}"""

ANSWER_JS = """async (sdp) => {
  await window.pc.setRemoteDescription({type: 'answer', sdp});
  const video = window.pc.getTransceivers()[1].sender;
  return video.getParameters().encodings.map(e => e.rid || null);
}"""


def _answer(offer_sdp: str) -> str:
    async def run() -> str:
        pc = RTCPeerConnection()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            assert pc.localDescription is not None
            return pc.localDescription.sdp
        finally:
            await pc.close()

    # Playwright's sync API keeps its own event loop in this thread
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result(timeout=30)


def _blank_page(browser: Browser) -> Page:
    """A page on a secure origin (getUserMedia needs one), served by Playwright itself."""
    page = browser.new_page()
    page.route(
        PAGE_URL, lambda route: route.fulfill(body="<html></html>", content_type="text/html")
    )
    page.goto(PAGE_URL)
    return page


def _media_section(sdp: str, mid: str) -> list[str]:
    sections: list[list[str]] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        if sections:
            sections[-1].append(line)
    return next(s for s in sections if f"a=mid:{mid}" in s)


@pytest.mark.browser
@pytest.mark.slow
def test_chromium_keeps_three_encodings_when_our_answer_accepts_its_simulcast() -> None:
    with launch_chromium() as browser:
        page = browser.new_page()
        page.route(
            PAGE_URL, lambda route: route.fulfill(body="<html></html>", content_type="text/html")
        )
        page.goto(PAGE_URL)
        offer_sdp = page.evaluate(OFFER_JS)

        offers = parse_simulcast_offer(offer_sdp)
        assert list(offers) == ["1"]
        offer = offers["1"]
        assert offer.rids == ("q", "h", "f")
        assert offer.rid_extension_id > 0 and offer.repaired_rid_extension_id > 0

        plain_answer = _answer(offer_sdp)
        assert "a=simulcast" not in plain_answer  # what aiortc alone would answer
        answer = answer_with_simulcast(plain_answer, offers)
        video = _media_section(answer, "1")
        assert f"a=extmap:{offer.rid_extension_id} {RID_URI}" in video
        assert f"a=extmap:{offer.repaired_rid_extension_id} {REPAIRED_RID_URI}" in video
        assert [line for line in video if line.startswith("a=rid:")] == [
            "a=rid:q recv",
            "a=rid:h recv",
            "a=rid:f recv",
        ]
        assert "a=simulcast:recv q;h;f" in video
        assert "a=rid:" not in "\n".join(_media_section(answer, "0"))

        assert page.evaluate(ANSWER_JS, answer) == ["q", "h", "f"]

        # the control: without our lines Chromium falls back to a single encoding
        control = _blank_page(browser)
        control_offer = control.evaluate(OFFER_JS)
        assert len(control.evaluate(ANSWER_JS, _answer(control_offer))) == 1


OFFER_TEMPLATE = """v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=video 9 UDP/TLS/RTP/SAVPF 96
c=IN IP4 0.0.0.0
a=mid:0
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
{extmaps}a=sendonly
a=rtpmap:96 VP8/90000
{rids}"""


def _offer(rids: str, extmaps: str = f"a=extmap:10 {RID_URI}\n") -> str:
    return OFFER_TEMPLATE.format(rids=rids, extmaps=extmaps).replace("\n", "\r\n")


def test_paused_rids_and_alternatives_keep_the_first_active_choice() -> None:
    sdp = _offer(
        "a=rid:a send\na=rid:b send\na=rid:c send\na=rid:d send\na=simulcast:send a;b,d;~c\n"
    )
    assert parse_simulcast_offer(sdp)["0"].rids == ("a", "b")


def test_older_draft_syntax_is_read() -> None:
    sdp = _offer("a=rid:lo send\na=rid:hi send\na=simulcast: send rid=lo;hi\n")
    assert parse_simulcast_offer(sdp)["0"] == SimulcastOffer("0", ("lo", "hi"), 10, 0)


def test_size_restrictions_order_the_layers_lowest_first() -> None:
    sdp = _offer(
        "a=rid:f send max-width=1280;max-height=720\n"
        "a=rid:q send max-width=320;max-height=180\n"
        "a=rid:h send max-width=640;max-height=360\n"
        "a=simulcast:send f;q;h\n"
    )
    assert parse_simulcast_offer(sdp)["0"].rids == ("q", "h", "f")


def test_a_single_rid_or_no_simulcast_is_plain_video() -> None:
    assert parse_simulcast_offer(_offer("a=rid:q send\na=simulcast:send q\n")) == {}
    assert parse_simulcast_offer(_offer("")) == {}


def test_simulcast_without_the_rid_extension_is_refused() -> None:
    with pytest.raises(ValueError, match="rtp-stream-id"):
        parse_simulcast_offer(_offer("a=rid:q send\na=rid:f send\na=simulcast:send q;f\n", ""))


def test_too_many_layers_are_refused() -> None:
    rids = "".join(f"a=rid:r{i} send\n" for i in range(5))
    with pytest.raises(ValueError, match="at most"):
        parse_simulcast_offer(_offer(rids + "a=simulcast:send r0;r1;r2;r3;r4\n"))


def test_a_rejected_m_line_gets_no_simulcast_lines() -> None:
    offers = {"0": SimulcastOffer("0", ("q", "f"), 10)}
    answer = "v=0\r\ns=-\r\nm=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:0\r\n"
    assert answer_with_simulcast(answer, offers) == answer
