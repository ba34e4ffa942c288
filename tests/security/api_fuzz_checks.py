"""Checks of our own that schemathesis runs beside its built-in ones (loaded as its hooks
module by ``test_api_fuzz``).

Schema conformance cannot see what a server stores: a name made of control characters
or of half a UTF-16 pair is valid JSON and a valid ``string``, yet it breaks the emails,
calendar files and pages it ends up in. Any such character in a successful answer means
the server took it in.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import schemathesis

ALLOWED_CONTROLS = frozenset("\t\n\r")


def _strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path or "(body)", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def unsafe_character(text: str) -> str | None:
    """The first control character (other than tab and line breaks) or lone surrogate."""
    for char in text:
        code = ord(char)
        if (code < 0x20 or 0x7F <= code < 0xA0) and char not in ALLOWED_CONTROLS:
            return char
        if 0xD800 <= code <= 0xDFFF:
            return char
    return None


@schemathesis.check
def no_control_characters_stored(ctx: Any, response: Any, case: Any) -> bool | None:
    """A successful JSON answer holds no control character nor lone surrogate."""
    if not 200 <= response.status_code < 300:
        return None
    content_type = " ".join(
        " ".join(values)
        for name, values in response.headers.items()
        if name.lower() == "content-type"
    )
    if "json" not in content_type:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    for path, text in _strings(body):
        char = unsafe_character(text)
        if char is not None:
            raise AssertionError(
                f"the answer's {path} holds the character U+{ord(char):04X}: "
                "the server accepted text it cannot safely put in a mail, a calendar or a page"
            )
    return None


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'self'",
}


@schemathesis.check
def security_headers_on_every_answer(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every answer, errors included, carries the headers that keep a browser from
    sniffing, framing or running what it holds (``visioguichet/http_security.py``)."""
    received = {name.lower(): " ".join(values) for name, values in response.headers.items()}
    for name, expected in SECURITY_HEADERS.items():
        if expected not in received.get(name, ""):
            raise AssertionError(
                f"a {response.status_code} answer without {name}: {expected} "
                f"(it has {received.get(name)!r})"
            )
    return None
