"""How many SMS a text costs. Phones send a text in the GSM-7 alphabet (160 characters
in one SMS, 153 a part when split) when every character is in it, the extension table's
characters (``€ [ ] { } ^ ~ | \\``) counting as two; one character outside it (a curly
apostrophe, ``œ``, an emoji) switches the whole text to UCS-2: 70 in one SMS, 67 a part.
Operators bill each part, and a three-part message arrives late on some phones, so the
texts are written to fit one where they can and counted here.
"""

from __future__ import annotations

from dataclasses import dataclass

# GSM 03.38 basic character set (the line feed and carriage return included).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through an escape character: two septets each.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsCost:
    encoding: str  # "gsm7" or "ucs2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def is_gsm7(text: str) -> bool:
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def sms_cost(text: str) -> SmsCost:
    """The encoding a phone picks for ``text`` and the SMS it takes."""
    if is_gsm7(text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, part, encoding = GSM7_SINGLE, GSM7_PART, "gsm7"
    else:
        # Characters beyond the Basic Multilingual Plane (emoji) take two code units.
        units = len(text.encode("utf-16-le")) // 2
        single, part, encoding = UCS2_SINGLE, UCS2_PART, "ucs2"
    if units <= single:
        return SmsCost(encoding, units, 1 if units else 0)
    return SmsCost(encoding, units, -(-units // part))


def to_gsm7(text: str) -> str:
    """The text with the usual typographic characters of French replaced by their GSM-7
    look-alikes (curly apostrophe, œ, non-breaking space, ê…), so that one such
    character does not halve the room of the whole message."""
    return "".join(_LOOKALIKE.get(c, c) for c in text)


_LOOKALIKE = {
    "’": "'",
    "‘": "'",
    "“": '"',
    "”": '"',
    "«": '"',
    "»": '"',
    "–": "-",
    "—": "-",
    "…": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "œ": "oe",
    "Œ": "OE",
    "â": "a",
    "ê": "e",
    "î": "i",
    "ô": "o",
    "û": "u",
    "ë": "e",
    "ï": "i",
    "ç": "c",
    "À": "A",
    "Â": "A",
    "È": "E",
    "Ê": "E",
    "Î": "I",
    "Ô": "O",
    "Û": "U",
}
