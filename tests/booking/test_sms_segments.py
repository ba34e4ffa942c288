"""SMS length: GSM-7 with the extension table counted twice, else UCS-2; the notices
fit one SMS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from booking_api import sms_text
from booking_api.sms_segments import sms_cost, to_gsm7


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", "gsm7", 0, 0),
        ("a" * 160, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),  # two parts of 153
        ("a" * 307, "gsm7", 307, 3),
        ("é à è ù Ç ñ ü @ £ ¿", "gsm7", 19, 1),  # all in the basic table
        ("€" * 80, "gsm7", 160, 1),  # extension characters count twice
        ("€" * 81, "gsm7", 162, 2),
        ("a" * 159 + "[", "gsm7", 161, 2),
        ("ê" + "a" * 69, "ucs2", 70, 1),  # one character outside GSM-7: UCS-2
        ("ê" + "a" * 70, "ucs2", 71, 2),
        ("œ" * 134, "ucs2", 134, 2),  # two parts of 67
        ("œ" * 135, "ucs2", 135, 3),
        ("😀" * 35, "ucs2", 70, 1),  # outside the BMP: two code units each
    ],
)
def test_segments_follow_the_encoding(text: str, encoding: str, units: int, segments: int) -> None:
    cost = sms_cost(text)
    assert (cost.encoding, cost.units, cost.segments) == (encoding, units, segments)


def test_french_typography_is_brought_to_gsm7() -> None:
    written = "Aujourd’hui « fête » de l’œuvre…"
    assert sms_cost(written).encoding == "ucs2"
    plain = to_gsm7(written)
    assert sms_cost(plain).encoding == "gsm7"
    assert plain == "Aujourd'hui \" fete \" de l'oeuvre..."


@pytest.mark.parametrize("locale", ["fr", "en"])
@pytest.mark.parametrize("kind", sms_text.KINDS)
def test_every_notice_fits_one_sms(kind: str, locale: str) -> None:
    """With a 30-character public address and a long organisation name (dropped when it
    would need a second SMS)."""
    base = "https://rdv.exemple-mairie.fr"
    assert len(base) <= 30
    link = base + "/j/AbCdEfGh1234"
    text = sms_text.text(
        kind,
        locale,
        organisation="Caisse d'allocations familiales de la Gironde",
        when=datetime(2026, 11, 24, 8, 30, tzinfo=UTC),
        join_url=link,
        manage_url=link,
        book_url=base + "/book",
    )
    cost = sms_cost(text)
    assert (cost.encoding, cost.segments) == ("gsm7", 1), (cost, text)
    assert "24/11" in text or "09:30" in text


def test_a_notice_without_a_manage_link_does_not_offer_one() -> None:
    """An agent's confirmation of a request hands no manage link."""
    when = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    common: dict[str, Any] = {
        "organisation": "Mairie",
        "when": when,
        "book_url": "https://x.fr/book",
    }
    join = "https://x.fr/j/AbCdEfGh1234"
    without = sms_text.text("confirmation", "fr", join_url=join, manage_url=None, **common)
    assert "Gérer" not in without and without.endswith(join)
    manage = "https://x.fr/j/ZyXwVuTs9876"
    with_it = sms_text.text("confirmation", "fr", join_url=join, manage_url=manage, **common)
    assert with_it.endswith(f"Gérer : {manage}")
