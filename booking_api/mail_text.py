"""The words of every notification, French first and English available."""

from __future__ import annotations

from datetime import datetime

from booking_api.slots import PARIS

_DAYS = {
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
}
_MONTHS = {
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
}

LOCALES = ("fr", "en")


def spoken_datetime(instant: datetime, locale: str) -> str:
    """« mardi 24 novembre 2026 à 09:30 » in Paris time."""
    local = instant.astimezone(PARIS)
    day = _DAYS[locale][local.weekday()]
    month = _MONTHS[locale][local.month - 1]
    if locale == "en":
        return f"{day} {local.day} {month} {local.year} at {local:%H:%M} (Paris time)"
    return f"{day} {local.day} {month} {local.year} à {local:%H:%M}"


_SUBJECTS = {
    "confirmation": {
        "fr": "Votre rendez-vous du {when} est confirmé",
        "en": "Your appointment on {when} is confirmed",
    },
    "request": {
        "fr": "Votre demande de rendez-vous du {when} est bien reçue",
        "en": "Your appointment request for {when} has been received",
    },
    "reminder": {
        "fr": "Rappel : votre rendez-vous demain, {when}",
        "en": "Reminder: your appointment tomorrow, {when}",
    },
    "cancellation": {
        "fr": "Votre rendez-vous du {when} est annulé",
        "en": "Your appointment on {when} is cancelled",
    },
    "reschedule": {
        "fr": "Votre rendez-vous est déplacé au {when}",
        "en": "Your appointment is moved to {when}",
    },
}

# The organisation is named on a line of its own ("Organisme : …"): its name may or may
# not take an article ("la Caisse…", "Pôle emploi"), which no sentence can guess.
_INTRO = {
    "confirmation": {
        "fr": "Votre rendez-vous en visio est confirmé.",
        "en": "Your video appointment is confirmed.",
    },
    "request": {
        "fr": "Votre demande de rendez-vous est bien reçue. Un agent la vérifie : vous "
        "recevrez un second message qui la confirme, avec le lien de l’appel.",
        "en": "Your appointment request has been received. An officer checks it: a second "
        "message will confirm it, with the link to the call.",
    },
    "reminder": {
        "fr": "Nous vous rappelons votre rendez-vous en visio.",
        "en": "This is a reminder of your video appointment.",
    },
    "cancellation": {
        "fr": "Votre rendez-vous a été annulé.",
        "en": "Your appointment has been cancelled.",
    },
    "reschedule": {
        "fr": "Votre rendez-vous a été déplacé.",
        "en": "Your appointment has been moved.",
    },
}

_LINES = {
    "fr": {
        "greeting": "Bonjour {name},",
        "organisation": "Organisme : {organisation}",
        "motif": "Motif : {motif}",
        "when": "Date : {when}",
        "duration": "Durée : {duration} minutes",
        "join": "Le jour du rendez-vous, rejoignez l’appel avec ce lien (gardez-le pour vous) :",
        "manage": "Pour consulter, déplacer ou annuler ce rendez-vous :",
        "ics": "Le fichier joint ajoute le rendez-vous à votre agenda.",
        "rebook": "Vous pouvez prendre un nouveau rendez-vous quand vous le souhaitez :",
        "closing": "Cordialement,\n{organisation}",
        "footer": "Ce message est envoyé automatiquement, merci de ne pas y répondre.",
        "sent_by": "Service de rendez-vous en visio de {operator}.",
        "privacy": "Vos données personnelles, ce que nous en gardons et combien de temps :",
    },
    "en": {
        "greeting": "Hello {name},",
        "organisation": "Organisation: {organisation}",
        "motif": "Reason: {motif}",
        "when": "Date: {when}",
        "duration": "Duration: {duration} minutes",
        "join": "On the day, join the call with this link (keep it to yourself):",
        "manage": "To view, move or cancel this appointment:",
        "ics": "The attached file adds the appointment to your calendar.",
        "rebook": "You may book a new appointment whenever you wish:",
        "closing": "Kind regards,\n{organisation}",
        "footer": "This message is sent automatically, please do not reply.",
        "sent_by": "Video appointment service of {operator}.",
        "privacy": "Your personal data, what we keep and for how long (in French):",
    },
}


def subject(kind: str, locale: str, when: datetime) -> str:
    return _SUBJECTS[kind][locale].format(when=spoken_datetime(when, locale))


def body(
    kind: str,
    locale: str,
    *,
    name: str,
    organisation: str,
    motif: str,
    when: datetime,
    duration_min: int,
    join_url: str | None,
    manage_url: str | None,
    book_url: str | None = None,
    operator: str | None = None,
    privacy_url: str | None = None,
) -> str:
    """The mail's text. ``organisation`` (the one the motif belongs to) is named on a line
    of its own and signs; ``operator``, the public body running the site (its identity
    as set by the administrator), is named at the foot with the personal-data page."""
    lines = _LINES[locale]
    operator = operator or organisation
    parts = [
        lines["greeting"].format(name=name),
        "",
        _INTRO[kind][locale],
        "",
        lines["organisation"].format(organisation=organisation),
        lines["motif"].format(motif=motif),
        lines["when"].format(when=spoken_datetime(when, locale)),
        lines["duration"].format(duration=duration_min),
        "",
    ]
    if kind == "cancellation":
        rebook = [lines["rebook"], book_url] if book_url else [lines["rebook"].rstrip(" :") + "."]
        parts += [*rebook, ""]
    else:
        if join_url:
            parts += [lines["join"], join_url, ""]
        if manage_url:
            parts += [lines["manage"], manage_url, ""]
        if kind != "request":  # a request carries no calendar file until confirmed
            parts += [lines["ics"], ""]
    parts += [lines["closing"].format(organisation=organisation), "", "--"]
    parts += [lines["sent_by"].format(operator=operator), lines["footer"]]
    if privacy_url:
        parts += [lines["privacy"], privacy_url]
    return "\n".join(parts) + "\n"
