"""Every implementation of the repository ports, as one fixture the contract suite runs against."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler_infrastructure import SqliteDatabase, migrate_sqlite
from tests.conformance.contract_stores import Stores, fake_stores, sqlite_stores


@pytest.fixture(params=["fake", "sqlite"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    """The in-memory fakes, then SQLite on a fresh migrated file."""
    if request.param == "fake":
        yield fake_stores()
        return
    db = await SqliteDatabase.open(tmp_path / "contract" / "scheduler.db")
    await migrate_sqlite(db)
    try:
        yield sqlite_stores(db)
    finally:
        await db.close()
