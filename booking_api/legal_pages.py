"""The three pages every French public site links from its footer: legal notice,
personal data, accessibility statement. Each is an administrator's text (or a default
naming the operator) beside facts the text cannot get wrong, written from the running
configuration: how long each kind of personal data is kept is the purge setting's value,
and the accessibility results are those the project's axe run measured.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from booking_api import legal_text
from booking_api.config import BookingConfig
from booking_api.db import Database
from booking_api.site_identity import SiteIdentity

DEFAULTS_DIR = Path(__file__).parent / "templates" / "legal"


@dataclass(frozen=True, slots=True)
class LegalPage:
    slug: str
    title: str

    @property
    def default(self) -> str:
        """The text shipped in ``templates/legal``; ``{operator}`` is the operator's name."""
        return _shipped_text(self.slug)


@cache
def _shipped_text(slug: str) -> str:
    return (DEFAULTS_DIR / f"{slug}.txt").read_text(encoding="utf-8")


PAGES: dict[str, LegalPage] = {
    page.slug: page
    for page in (
        LegalPage("mentions-legales", "Mentions légales"),
        LegalPage("donnees-personnelles", "Données personnelles"),
        LegalPage("accessibilite", "Déclaration d'accessibilité"),
    )
}


def default_text(slug: str, operator: str) -> str:
    return PAGES[slug].default.replace("{operator}", operator)


async def stored_texts(db: Database) -> dict[str, str]:
    rows = await db.fetch_all("SELECT page, body FROM legal_pages")
    return {str(r["page"]): str(r["body"]) for r in rows}


async def save_text(db: Database, slug: str, body: str | None) -> None:
    """The administrator's text for the page; ``None`` goes back to the default."""
    if slug not in PAGES:
        raise KeyError(slug)
    async with db.transaction() as tx:
        await tx.execute("DELETE FROM legal_pages WHERE page = ?", slug)
        if body is not None:
            await tx.execute(
                "INSERT INTO legal_pages (page, body, updated_at) VALUES (?, ?, ?)",
                slug,
                body,
                time.time_ns() // 1_000_000,
            )


# --- facts from the running configuration ---------------------------------------------


def _days(n: int) -> str:
    return f"{n} jour" if n == 1 else f"{n} jours"


def retention(config: BookingConfig) -> list[tuple[str, str]]:
    """(what is kept, for how long), as the housekeeper actually does it."""
    after_end = f"{_days(config.purge_after_days)} après la fin du rendez-vous, puis effacés"
    return [
        ("Votre nom, votre adresse e-mail et votre numéro de téléphone", after_end),
        ("Les documents et les messages écrits échangés pendant l'appel", after_end),
        (
            "Le nom et les coordonnées d'une personne invitée à l'appel (interprète, proche)",
            after_end,
        ),
        ("Le numéro donné pour être rappelé", after_end),
        ("Les messages (e-mails, SMS) et liens envoyés pour le rendez-vous", after_end),
        ("Le commentaire laissé dans l'enquête de satisfaction", after_end),
        ("Votre nom dans la file d'attente d'un appel immédiat", after_end),
        (
            "Le motif, la date, l'issue et la qualité technique de l'appel, la note de "
            "satisfaction",
            "gardés sans nom ni coordonnées, pour les statistiques du service",
        ),
        (
            "L'adresse IP d'une connexion d'agent échouée",
            f"{int(config.login_window_s // 60)} minutes (protection contre les essais de "
            "mots de passe)",
        ),
        ("L'image et le son des appels", "jamais enregistrés"),
    ]


def _retention_html(config: BookingConfig) -> str:
    rows = "".join(
        f'<tr><th scope="row">{html.escape(what)}</th><td>{html.escape(how_long)}</td></tr>'
        for what, how_long in retention(config)
    )
    return (
        "<h2>Ce qui est conservé, et combien de temps</h2>\n"
        '<table class="facts"><caption class="visually-hidden">Durées de conservation'
        '</caption><thead><tr><th scope="col">Donnée</th><th scope="col">Durée</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _accessibility_html(identity: SiteIdentity, measure: Mapping[str, Any] | None) -> str:
    level = identity.accessibility_label
    parts = [
        "<h2>État de conformité</h2>",
        f"<p>Ce site est <strong>{html.escape(level)}</strong> avec le référentiel "
        "général d'amélioration de l'accessibilité (RGAA), version 4.1.</p>",
    ]
    if identity.accessibility_status == "non":
        parts.append(
            "<p>Aucun audit complet de conformité n'a encore été réalisé : tant qu'il ne "
            "l'est pas, la loi impose de déclarer le site non conforme. Les résultats des "
            "tests automatiques ci-dessous ne remplacent pas cet audit.</p>"
        )
    parts.append("<h2>Résultats des tests automatiques</h2>")
    if not measure:
        parts.append("<p>Aucune mesure n'est disponible.</p>")
        return "\n".join(parts)
    violations: Mapping[str, int] = measure.get("violations", {})
    pages = [str(p) for p in measure.get("pages", [])]
    facts = [
        ("Outil", f"{measure.get('tool', '')}, règles {measure.get('rules', '')}"),
        ("Date de la mesure", str(measure.get("measured_on", ""))),
        ("Pages testées", f"{len(pages)} : " + ", ".join(pages)),
        ("Règles vérifiées sans défaut", str(measure.get("rules_passed", ""))),
        (
            "Défauts graves ou critiques",
            str(violations.get("critical", 0) + violations.get("serious", 0)),
        ),
        (
            "Défauts modérés ou mineurs",
            str(violations.get("moderate", 0) + violations.get("minor", 0))
            + (
                " (" + ", ".join(str(r) for r in measure.get("violated_rules", [])) + ")"
                if measure.get("violated_rules")
                else ""
            ),
        ),
    ]
    items = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in facts
    )
    parts.append(f'<dl class="summary">{items}</dl>')
    return "\n".join(parts)


def page_html(
    slug: str,
    identity: SiteIdentity,
    config: BookingConfig,
    stored: str | None,
    measure: Mapping[str, Any] | None = None,
) -> str:
    """The page's main content below its title: facts first, then the text."""
    text = stored if stored is not None else default_text(slug, identity.name)
    body = legal_text.to_html(text)
    if slug == "donnees-personnelles":
        return body + "\n" + _retention_html(config)
    if slug == "accessibilite":
        # The statement's order (RGAA model): the commitment, then the conformity and
        # the measure, then the administrator's sections.
        intro, heading, rest = body.partition("<h2>")
        return intro + "\n" + _accessibility_html(identity, measure) + "\n" + heading + rest
    return body
