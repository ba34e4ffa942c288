"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningService, run_service


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    """The real service with demo data, one per test module (starting costs ~1 s)."""
    with run_service(tmp_path_factory.mktemp("service")) as running:
        yield running


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests save screenshots and reports for a person to review."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
