"""Transport-wide congestion control on the publish connection, which aiortc leaves out.

aiortc's answer keeps only the header extensions and RTCP feedback it implements, so a
browser publishing to us would not number its packets transport-wide and its
congestion control would run on loss alone. These pure functions read which m-lines of
a publish offer offer the extension and write it, with ``a=rtcp-fb:<pt> transport-cc``
for each media codec, into the answer; ``sfu.transport_feedback`` then sends the
feedback.

Toward a subscriber, only its audio m-lines offer the extension
(``offer_with_audio_transport_cc``): its video keeps REMB, which Chrome computes only
from packets that carry no transport-wide number, and the audio's arrivals, reported
every 50 to 250 ms, show the queue on its downlink (``sfu.arrival_delay``). A client
that does not answer with it (aiortc) gets unnumbered audio, as before.
"""

from __future__ import annotations

from sfu.sdp_sections import attribute_values, extension_ids, sections
from sfu.transport_feedback import TRANSPORT_CC_URI

# codecs that are not media of their own: no congestion feedback is asked for them
_NOT_MEDIA = frozenset({"rtx", "red", "ulpfec", "flexfec-03", "cn", "telephone-event"})


def transport_cc_offer(offer_sdp: str) -> dict[str, int]:
    """mid → the offered transport-wide sequence number extension id, per m-line that
    offers it and is not rejected (one BUNDLE shares one id per extension)."""
    _, media = sections(offer_sdp)
    offered: dict[str, int] = {}
    for section in media:
        mids = attribute_values(section, "mid")
        ext_id = extension_ids(section).get(TRANSPORT_CC_URI, 0)
        parts = section[0].split()
        if mids and ext_id and len(parts) > 1 and parts[1] != "0":
            offered[mids[0]] = ext_id
    return offered


def _media_payload_types(section: list[str]) -> list[str]:
    names: dict[str, str] = {}
    for value in attribute_values(section, "rtpmap"):
        payload_type, _, encoding = value.partition(" ")
        names[payload_type] = encoding.split("/")[0].lower()
    return [pt for pt in section[0].split()[3:] if names.get(pt, "") not in _NOT_MEDIA]


def answer_with_transport_cc(answer_sdp: str, offered: dict[str, int]) -> str:
    """aiortc's answer plus, on each offered and accepted m-line, the extension and the
    ``transport-cc`` feedback for its media codecs."""
    if not offered:
        return answer_sdp
    session, media = sections(answer_sdp)
    out = list(session)
    for section in media:
        mids = attribute_values(section, "mid")
        ext_id = offered.get(mids[0]) if mids else None
        if ext_id is None or section[0].split()[1] == "0":
            out.extend(section)
            continue
        if TRANSPORT_CC_URI not in extension_ids(section):
            cut = 1 + max(
                (i for i, line in enumerate(section) if line.startswith("a=extmap:")),
                default=0,
            )
            section = [*section[:cut], f"a=extmap:{ext_id} {TRANSPORT_CC_URI}", *section[cut:]]
        feedback = [
            f"a=rtcp-fb:{pt} transport-cc"
            for pt in _media_payload_types(section)
            if f"a=rtcp-fb:{pt} transport-cc" not in section
        ]
        last_rtcp_fb = max(
            (i for i, line in enumerate(section) if line.startswith(("a=rtcp-fb:", "a=rtpmap:"))),
            default=len(section) - 1,
        )
        section = section[: last_rtcp_fb + 1] + feedback + section[last_rtcp_fb + 1 :]
        out.extend(section)
    return "\r\n".join(out) + "\r\n"


def offer_with_audio_transport_cc(offer_sdp: str) -> str:
    """Our subscribe offer with the transport-wide sequence number extension, and
    ``transport-cc`` feedback for its codecs, on each audio m-line that is not rejected:
    under the least id no m-line of the bundle uses (stable across renegotiations, as
    aiortc's own ids are), unless an audio m-line already offers it."""
    _, media = sections(offer_sdp)
    used = {i for section in media for i in extension_ids(section).values()}
    offered = [extension_ids(s).get(TRANSPORT_CC_URI) for s in media]
    ext_id = next((i for i in offered if i), None)
    if ext_id is None:
        ext_id = next((i for i in range(1, 15) if i not in used), None)
    if ext_id is None:
        return offer_sdp  # fourteen one-byte ids taken: the offer as it was
    chosen = {
        attribute_values(section, "mid")[0]: ext_id
        for section in media
        if section[0].startswith("m=audio ") and attribute_values(section, "mid")
    }
    return answer_with_transport_cc(offer_sdp, chosen)


def transport_cc_id(offered: dict[str, int]) -> int:
    """The one id the publish connection's packets carry (0: not negotiated)."""
    ids = set(offered.values())
    return next(iter(ids)) if len(ids) == 1 else (min(ids) if ids else 0)
