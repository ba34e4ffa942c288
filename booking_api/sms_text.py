"""The words of every SMS, French first and English available.

Each text fits one SMS (GSM-7, 160 characters; ``booking_api.sms_segments``) with links
of a public base URL up to 30 characters: the date is written short (« le 24/11 à
09:30 »), links are short links (``/j/`` and 12 characters), and the organisation's name
leads the text only when it still fits in one SMS. Measured with
``https://rdv.exemple-mairie.fr`` (30 characters) and without the organisation's name,
in French: confirmation 142 characters, request 118, reminder 89, reminder shortly
before 86, cancellation 87, reschedule 141; in English 152, 122, 105, 90, 103, 153 —
one GSM-7 SMS each (a name such as « Mairie de Montreuil » is added to all but the
confirmation and the reschedule notice, which it would push into a second SMS).
"""

from __future__ import annotations

from datetime import datetime

from booking_api.slots import PARIS
from booking_api.sms_segments import sms_cost, to_gsm7

_TEXTS = {
    "confirmation": {
        "fr": "RDV visio confirmé {when}. Appel : {join}",
        "en": "Appointment confirmed {when}. Call: {join}",
    },
    "request": {
        "fr": "Demande de RDV {when} enregistrée, un agent la vérifie. Suivi : {manage}",
        "en": "Appointment request {when} received, an officer checks it: {manage}",
    },
    "reminder": {
        "fr": "Rappel : RDV visio {when}. Appel : {join}",
        "en": "Reminder: video appointment {when}. Call: {join}",
    },
    "reminder-soon": {
        "fr": "Votre RDV visio commence à {time}. Appel : {join}",
        "en": "Your video appointment starts at {time}. Call: {join}",
    },
    "cancellation": {
        "fr": "Votre RDV {when} est annulé. Nouveau RDV : {book}",
        "en": "Your appointment {when} is cancelled. Book again: {book}",
    },
    "reschedule": {
        "fr": "RDV visio déplacé {when}. Appel : {join}",
        "en": "Appointment moved, now {when}. Call: {join}",
    },
}
# Added to a text without its own manage link when there is one (an agent's confirmation
# of a request, or a move made by staff, hands none).
_MANAGE = {"fr": " Gérer : {manage}", "en": " Manage: {manage}"}
_NO_JOIN = {"fr": "lien envoyé plus tard", "en": "link sent later"}

KINDS = tuple(_TEXTS)


def short_when(instant: datetime, locale: str) -> str:
    """« le 24/11 à 09:30 » in Paris time (the year is the coming one)."""
    local = instant.astimezone(PARIS)
    if locale == "en":
        return f"on {local:%d/%m} at {local:%H:%M} (Paris)"
    return f"le {local:%d/%m} à {local:%H:%M}"


def text(
    kind: str,
    locale: str,
    *,
    organisation: str,
    when: datetime,
    join_url: str | None,
    manage_url: str | None,
    book_url: str,
) -> str:
    locale = locale if locale in ("fr", "en") else "fr"
    template = _TEXTS[kind][locale]
    if manage_url and kind in ("confirmation", "reschedule"):
        template += _MANAGE[locale]
    body = template.format(
        when=short_when(when, locale),
        time=f"{when.astimezone(PARIS):%H:%M}",
        join=join_url or _NO_JOIN[locale],
        manage=manage_url or "",
        book=book_url,
    )
    body = to_gsm7(body).strip()
    if not organisation.strip():
        return body
    signed = to_gsm7(f"{organisation} : {body}" if locale == "fr" else f"{organisation}: {body}")
    return signed if sms_cost(signed).segments <= sms_cost(body).segments else body
