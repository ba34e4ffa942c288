#!/usr/bin/env bash
# Installs what the tests need (Python packages, Debian's chromium) and runs the whole
# suite: lint, then every test including the slow browser, media and bench ones.
# Extra arguments go to pytest (e.g. -m "not slow" for a quick local run).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
.venv/bin/ruff check .
# the annotations checked: strict for sfu and signaling (pyproject's [tool.mypy]), ~25 s
.venv/bin/mypy sfu signaling booking_api visioguichet bench tests
exec .venv/bin/python -m pytest "$@"
