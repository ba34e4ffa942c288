"""What the accessibility statement says the automatic tests found, measured: axe-core
on every page of the site as first shown, in French, against the real service.

``python -m tests.web.accessibility_measure`` writes ``web/static/accessibility-measure.json``,
which the statement (``/accessibilite``) shows; ``test_accessibility_measure`` fails when
the committed figures are no longer what the run finds (a page added, a violation
appeared or fixed), so the statement cannot claim more than was measured.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser

import web
from tests.support.browser import launch_chromium
from tests.support.server import run_service
from tests.web.accessibility import axe_version, rule_outcomes

MEASURE_PATH = Path(web.STATIC_DIR) / "accessibility-measure.json"
IMPACTS = ("critical", "serious", "moderate", "minor")


def measure(browser: Browser, base_url: str) -> dict[str, Any]:
    context = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris")
    page = context.new_page()
    passed: set[str] = set()
    violated: dict[str, str] = {}
    counts: Counter[str] = Counter()
    version = ""
    try:
        for path in web.PAGES:
            page.goto(f"{base_url}{path}")
            page.wait_for_load_state("networkidle")
            for rule, outcome in rule_outcomes(page).items():
                if outcome == "pass":
                    passed.add(rule)
                else:
                    violated[rule] = outcome
                    counts[outcome] += 1
            version = axe_version(page)
    finally:
        context.close()
    return {
        "tool": f"axe-core {version}",
        "rules": "WCAG 2.0 et 2.1 niveaux A et AA, bonnes pratiques",
        "measured_on": datetime.now(UTC).date().isoformat(),
        "pages": list(web.PAGES),
        "rules_passed": len(passed - set(violated)),
        "violations": {impact: counts.get(impact, 0) for impact in IMPACTS},
        "violated_rules": sorted(violated),
    }


def main() -> int:
    with (
        tempfile.TemporaryDirectory() as data_dir,
        run_service(Path(data_dir)) as service,
        launch_chromium() as browser,
    ):
        figures = measure(browser, service.base_url)
    MEASURE_PATH.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(figures, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
