"""Reading an SDP as lines grouped by m-section, for the few attributes aiortc leaves
out of its answers (``sfu.simulcast_sdp``, ``sfu.transport_cc_sdp``)."""

from __future__ import annotations


def sections(sdp: str) -> tuple[list[str], list[list[str]]]:
    session: list[str] = []
    media: list[list[str]] = []
    for line in sdp.splitlines():
        if not line:
            continue
        if line.startswith("m="):
            media.append([line])
        elif media:
            media[-1].append(line)
        else:
            session.append(line)
    return session, media


def attribute_values(section: list[str], name: str) -> list[str]:
    prefix = f"a={name}:"
    return [line[len(prefix) :].strip() for line in section if line.startswith(prefix)]


def extension_ids(section: list[str]) -> dict[str, int]:
    ids: dict[str, int] = {}
    for value in attribute_values(section, "extmap"):
        parts = value.split()
        if len(parts) < 2:
            continue
        number = parts[0].split("/")[0]
        if number.isdigit():
            ids[parts[1]] = int(number)
    return ids


def bundling_problem(sdp: str) -> str | None:
    """Why the SFU cannot take this description's transport layout, or None.

    Every m-section of a connection shares one ICE and DTLS transport (``BUNDLE``, RFC
    9143) and multiplexes RTCP with RTP (RFC 5761): aiortc would otherwise open one
    transport per unbundled m-section while our forwarding runs on the first only, so
    video would arrive and audio not. A client must use ``bundle-policy: max-bundle``
    (or ``balanced`` answered with our BUNDLE group) and ``rtcp-mux-policy: require``;
    other layouts are refused at once, with this sentence.
    """
    session, media = sections(sdp)
    accepted = [s for s in media if len(s[0].split()) > 1 and s[0].split()[1] != "0"]
    if not accepted:
        return None
    mids = [values[0] for s in accepted if (values := attribute_values(s, "mid"))]
    for section in accepted:
        kind = section[0][2:].split()[0]
        if kind in ("audio", "video") and "a=rtcp-mux" not in section:
            return (
                f"the {kind} m-section does not multiplex RTCP with RTP (a=rtcp-mux): "
                "use rtcp-mux-policy 'require'"
            )
    if len(accepted) < 2:
        return None
    groups = [
        set(parts[1:])
        for value in attribute_values(session, "group")
        if (parts := value.split()) and parts[0] == "BUNDLE"
    ]
    largest = max(groups, key=len, default=set())
    missing = [mid for mid in mids if mid not in largest]
    if len(mids) < len(accepted) or missing:
        return (
            "every m-section must be in one a=group:BUNDLE (use bundle-policy 'max-bundle'); "
            f"not bundled: {', '.join(missing) or 'an m-section without a=mid'}"
        )
    return None


def rejected_mids(sdp: str) -> list[str]:
    """The mids of m-sections a description rejects (port 0)."""
    _, media = sections(sdp)
    return [
        mids[0]
        for section in media
        if len(parts := section[0].split()) > 1
        and parts[1] == "0"
        and (mids := attribute_values(section, "mid"))
    ]


def ice_ufrags(sdp: str) -> list[str]:
    """Every ``a=ice-ufrag`` of a description, session level and m-sections."""
    return [
        line[len("a=ice-ufrag:") :].strip()
        for line in sdp.splitlines()
        if line.startswith("a=ice-ufrag:")
    ]
