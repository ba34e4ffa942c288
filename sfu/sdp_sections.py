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
