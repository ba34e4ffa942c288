"""Simulcast negotiation that aiortc leaves out: ``a=rid``, ``a=simulcast`` and rid extensions.

aiortc's SDP parser ignores ``a=rid``/``a=simulcast`` and its answer keeps only the
header extensions it knows, so a browser publishing three encodings would send one.
These pure functions read what a publish offer asks for, per m-line, and write the
matching receive side into aiortc's answer (RFC 8851 rids, RFC 8853 simulcast,
RFC 8852 ``rtp-stream-id`` / ``repaired-rtp-stream-id``), without touching aiortc.

Layers are first numbered in the order the offer's ``a=simulcast`` lists them (lowest
resolution first is what mediasoup and LiveKit clients and ours in ``web/static`` do);
when every rid carries a ``max-width``/``max-height`` restriction, or else a ``max-br``
one, those sort them instead. The order that counts is decided from the media itself
(``sfu.simulcast_order``): a sender listing its largest encoding first still gets it as
the top layer. Two or more send rids without ``a=simulcast`` are refused: the answer
may not add simulcast, and the sender would send its first encoding only.
"""

from __future__ import annotations

from dataclasses import dataclass

from sfu.sdp_sections import attribute_values, extension_ids, sections

RID_URI = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
REPAIRED_RID_URI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
MAX_RIDS = 4


@dataclass(frozen=True)
class SimulcastOffer:
    """What one offered m-line sends as simulcast: rids lowest layer first, extension ids."""

    mid: str
    rids: tuple[str, ...]
    rid_extension_id: int
    repaired_rid_extension_id: int = 0


def _send_rids(simulcast: str) -> list[str]:
    """The rids of ``a=simulcast``'s send direction, first alternative of each, unpaused."""
    tokens = simulcast.split()
    rids: list[str] = []
    for index in range(len(tokens) - 1):
        if tokens[index] != "send":
            continue
        streams = tokens[index + 1]
        if streams.startswith("rid="):  # the older draft syntax
            streams = streams[4:]
        for stream in streams.split(";"):
            first = stream.split(",")[0].strip()
            if first and not first.startswith("~"):
                rids.append(first)
    return rids


def _restrictions(rid_lines: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for value in rid_lines:
        parts = value.split()
        if len(parts) < 2 or parts[1] != "send":
            continue
        params: dict[str, str] = {}
        for item in (parts[2] if len(parts) > 2 else "").split(";"):
            key, _, val = item.partition("=")
            if key:
                params[key.strip()] = val.strip()
        found[parts[0]] = params
    return found


def _area(params: dict[str, str]) -> int | None:
    try:
        return int(params["max-width"]) * int(params["max-height"])
    except (KeyError, ValueError):
        return None


def _bitrate(params: dict[str, str]) -> int | None:
    try:
        return int(params["max-br"])
    except (KeyError, ValueError):
        return None


def parse_simulcast_offer(sdp: str) -> dict[str, SimulcastOffer]:
    """Per mid, the simulcast a publish offer sends; m-lines without simulcast are absent.

    Raises ``ValueError`` when an m-line asks for simulcast without the rid header
    extension (we could not tell the layers apart) or with more rids than we accept.
    """
    offers: dict[str, SimulcastOffer] = {}
    _, media = sections(sdp)
    for section in media:
        if not section[0].startswith("m=video"):
            continue
        mids = attribute_values(section, "mid")
        simulcast = attribute_values(section, "simulcast")
        send = _restrictions(attribute_values(section, "rid"))
        if mids and not simulcast and len(send) > 1 and section[0].split()[1] != "0":
            raise ValueError(
                f"m-line {mids[0]}: {len(send)} send rids (a=rid) without a=simulcast; "
                "list them in a=simulcast:send, or send one encoding"
            )
        if not mids or not simulcast:
            continue
        rids = [rid for rid in _send_rids(simulcast[0]) if rid in send]
        if len(rids) < 2:
            continue
        if len(rids) > MAX_RIDS:
            raise ValueError(f"m-line {mids[0]}: at most {MAX_RIDS} simulcast layers")
        if len(set(rids)) != len(rids):
            raise ValueError(f"m-line {mids[0]}: duplicate rid in a=simulcast")
        areas = [area for rid in rids if (area := _area(send[rid])) is not None]
        rates = [rate for rid in rids if (rate := _bitrate(send[rid])) is not None]
        if len(areas) == len(rids):
            rids = [rid for _, rid in sorted(zip(areas, rids, strict=True), key=lambda p: p[0])]
        elif len(rates) == len(rids):
            rids = [rid for _, rid in sorted(zip(rates, rids, strict=True), key=lambda p: p[0])]
        ids = extension_ids(section)
        rid_id = ids.get(RID_URI, 0)
        if not rid_id:
            raise ValueError(f"m-line {mids[0]}: simulcast needs the {RID_URI} extension")
        offers[mids[0]] = SimulcastOffer(
            mid=mids[0],
            rids=tuple(rids),
            rid_extension_id=rid_id,
            repaired_rid_extension_id=ids.get(REPAIRED_RID_URI, 0),
        )
    return offers


def answer_with_simulcast(answer_sdp: str, offers: dict[str, SimulcastOffer]) -> str:
    """aiortc's answer plus, on each simulcast m-line, the receive side of what was offered."""
    if not offers:
        return answer_sdp
    session, media = sections(answer_sdp)
    out = list(session)
    for section in media:
        mids = attribute_values(section, "mid")
        offer = offers.get(mids[0]) if mids else None
        if offer is None or section[0].split()[1] == "0":  # absent or rejected m-line
            out.extend(section)
            continue
        extmaps = [f"a=extmap:{offer.rid_extension_id} {RID_URI}"]
        if offer.repaired_rid_extension_id:
            extmaps.append(f"a=extmap:{offer.repaired_rid_extension_id} {REPAIRED_RID_URI}")
        layers = [f"a=rid:{rid} recv" for rid in offer.rids]
        layers.append("a=simulcast:recv " + ";".join(offer.rids))
        # our extmaps after aiortc's own; rid and simulcast at the end of the m-section
        cut = 1 + max(
            (i for i, line in enumerate(section) if line.startswith("a=extmap:")), default=0
        )
        section = section[:cut] + extmaps + section[cut:] + layers
        out.extend(section)
    return "\r\n".join(out) + "\r\n"
