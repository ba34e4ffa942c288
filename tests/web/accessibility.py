"""axe-core (vendored from the npm registry) run inside a page: serious/critical findings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_PATH = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
AXE_RUN_JS = """
async () => await axe.run(document, {
  runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
})
"""


def blocking_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe on the page as it is now; return serious and critical violations, summarised."""
    # Evaluated through the DevTools protocol, as a console would: the page's
    # Content-Security-Policy rightly refuses an injected <script>.
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE_PATH.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate(AXE_RUN_JS)
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "targets": [node["target"] for node in violation["nodes"]][:5],
        }
        for violation in results["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]


def rule_outcomes(page: Page) -> dict[str, str]:
    """Every rule axe applied to the page as it is now: rule id → ``pass`` or the
    violation's impact (what the accessibility statement reports, ``accessibility_measure``)."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE_PATH.read_text(encoding="utf-8") + "\n;undefined")
    results = page.evaluate(AXE_RUN_JS)
    outcomes = {rule["id"]: "pass" for rule in results["passes"]}
    outcomes |= {rule["id"]: str(rule["impact"]) for rule in results["violations"]}
    return outcomes


def axe_version(page: Page) -> str:
    return str(page.evaluate("() => axe.version"))
