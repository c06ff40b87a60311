"""Every implementation of the repository ports, as one fixture the contract suite runs against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler_infrastructure import SqliteDatabase, migrate_sqlite
from tests.conformance.contract_stores import Stores, fake_stores, postgres_stores, sqlite_stores
from tests.integration.postgres.server import migrated_database


@pytest.fixture(params=["fake", "sqlite", "postgres"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """The in-memory fakes, SQLite on a fresh migrated file, PostgreSQL on a fresh migrated schema."""
    if request.param == "fake":
        yield fake_stores()
        return
    if request.param == "postgres":
        async with migrated_database() as db:
            yield postgres_stores(db)
        return
    db = await SqliteDatabase.open(tmp_path / "contract" / "scheduler.db")
    await migrate_sqlite(db)
    try:
        yield sqlite_stores(db)
    finally:
        await db.close()
