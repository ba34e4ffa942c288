"""A failure logged in production (``--log-format json``) says what failed and where.

An unhandled error answers 500 and is logged with ``log.exception``; in JSON lines that
record is all an operator has. It must name the exception, its message and the function
that raised it, whether it comes from our structlog loggers or from a library's standard
logger (aiohttp's "Error handling request"). Run in a process of its own: logging's
configuration is global.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import logging, structlog
from visioguichet.log_setup import configure_logging

configure_logging(fmt="json", level="info")

def parse_the_upload():
    raise ValueError("boundary missed for the upload")

try:
    parse_the_upload()
except ValueError:
    {log_call}
"""

LOGGERS = {
    "structlog": 'structlog.get_logger("booking_api").exception("booking_api_unhandled_error")',
    "standard": 'logging.getLogger("aiohttp.server").exception("Error handling request")',
}


@pytest.mark.parametrize("logger", sorted(LOGGERS))
def test_a_logged_exception_names_its_type_message_and_place_in_json(logger: str) -> None:
    script = SCRIPT.format(log_call=LOGGERS[logger])
    run = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [line for line in run.stderr.splitlines() if line.startswith("{")]
    assert len(lines) == 1, run.stderr
    record = json.loads(lines[0])
    text = json.dumps(record)
    for what in ("ValueError", "boundary missed for the upload", "parse_the_upload"):
        assert what in text, f"the JSON record lacks {what!r}: {lines[0]}"
