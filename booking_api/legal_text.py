"""The legal pages' text: plain text with three marks, stored as typed, escaped on render.

An administrator's text reaches every citizen, so it is hostile input like any other:
it is kept as the plain text it was typed (checked like all free text: no control or
bidirectional character, a bounded length) and turned into HTML only here, where every
character of it is escaped and the only tags are those this module writes. No HTML the
administrator types ever reaches a page, so there is nothing to sanitise and no filter
to get around.

The marks, enough for a legal notice:
- a blank line separates paragraphs; a single line break stays one;
- a paragraph whose first line starts with ``## `` is a heading (its line only);
- a paragraph whose lines all start with ``- `` is a list;
- an ``https://`` address, or ``mailto:`` one, becomes a link to itself.
"""

from __future__ import annotations

import html
import re

MAX_BODY = 20_000
_LINK = re.compile(r"\b(?:https://|mailto:)[^\s<>\"'`]+[^\s<>\"'`.,;:!?)\]]")


def _inline(text: str) -> str:
    """Escaped text, its addresses made links (the address escaped in both places)."""
    out: list[str] = []
    position = 0
    for match in _LINK.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        address = html.escape(match.group(0), quote=True)
        out.append(f'<a href="{address}" rel="noopener noreferrer">{address}</a>')
        position = match.end()
    out.append(html.escape(text[position:]))
    return "".join(out)


def blocks(text: str) -> list[list[str]]:
    """Paragraphs as lists of lines (blank lines between them dropped)."""
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.strip():
            current.append(line.rstrip())
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def to_html(text: str, heading_level: int = 2) -> str:
    """The text as HTML: ``<h2>``, ``<p>``, ``<ul>``, ``<a>`` and ``<br>`` only."""
    parts: list[str] = []
    tag = f"h{heading_level}"
    for lines in blocks(text):
        first = lines[0].lstrip()
        if first.startswith("## "):
            parts.append(f"<{tag}>{_inline(first[3:].strip())}</{tag}>")
            lines = lines[1:]
            if not lines:
                continue
        if all(line.lstrip().startswith("- ") for line in lines):
            items = "".join(f"<li>{_inline(line.lstrip()[2:].strip())}</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append("<p>" + "<br>\n".join(_inline(line.strip()) for line in lines) + "</p>")
    return "\n".join(parts)
