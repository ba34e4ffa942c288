#!/usr/bin/env bash
# Installs Visioguichet and runs it with embedded defaults: SQLite in ./data, one process,
# mail written to ./data/outbox, demo organisation and agent, on http://127.0.0.1:8080.
# Extra arguments go to `visioguichet serve` (e.g. --port 9000, --smtp-url smtp://…).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/visioguichet serve --demo "$@"
