"""Schema migrations are versioned and idempotent; staff accounts via the CLI functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from booking_api import BookingConfig, create_user, migrate
from booking_api.db import open_database
from booking_api.migrations import LATEST_VERSION


async def test_migrate_twice_applies_each_version_once(database_url: str, tmp_path: Path) -> None:
    config = BookingConfig(database_url=database_url, data_dir=tmp_path)
    assert await migrate(config) == LATEST_VERSION
    assert await migrate(config) == LATEST_VERSION
    db = await open_database(database_url)
    try:
        rows = await db.fetch_all("SELECT version FROM schema_migrations ORDER BY version")
    finally:
        await db.close()
    assert [r["version"] for r in rows] == list(range(1, LATEST_VERSION + 1))


async def test_created_agent_logs_in_and_a_duplicate_email_is_refused(
    booking_client: Any, database_url: str, tmp_path: Path
) -> None:
    config = BookingConfig(database_url=database_url, data_dir=tmp_path / "data", demo=True)
    user_id = await create_user(
        config, email="Claire@CAF.example", password="un-mot-de-passe", name="Claire", role="agent"
    )
    assert user_id
    with pytest.raises(ValueError, match="already exists"):
        await create_user(
            config, email="claire@caf.example", password="autre-secret", name="C", role="agent"
        )
    client = await booking_client()
    login = await client.post(
        "/api/auth/login", json={"email": "claire@caf.example", "password": "un-mot-de-passe"}
    )
    assert login.status == 200
    me = await (await client.get("/api/auth/me")).json()
    assert me["user"]["role"] == "agent" and me["user"]["service_id"] == "demo-caf-prestations"
