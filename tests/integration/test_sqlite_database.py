"""The SQLite adapter under contention: atomic transactions, several handles on one file."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler_domain import ApiKey, Role, RunQuery, Trigger
from scheduler_errors import Conflict, Unavailable
from scheduler_infrastructure import (
    SqliteApiKeyRepository,
    SqliteDatabase,
    SqliteTaskRepository,
    SqliteTaskRunRepository,
    migrate_sqlite,
)
from scheduler_testing import a_run, a_task

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "scheduler.db"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[SqliteDatabase]:
    database = await SqliteDatabase.open(path)
    await migrate_sqlite(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
async def other(db: SqliteDatabase, path: Path) -> AsyncIterator[SqliteDatabase]:
    """A second handle on the same file, as another process would have."""
    database = await SqliteDatabase.open(path, busy_timeout_seconds=5)
    try:
        yield database
    finally:
        await database.close()


async def count_keys(db: SqliteDatabase) -> int:
    return await SqliteApiKeyRepository(db=db).count()


async def test_a_failed_transaction_keeps_none_of_its_statements(db: SqliteDatabase) -> None:
    await SqliteApiKeyRepository(db=db).add(ApiKey(name="a", role=Role.ADMIN, key_hash="h1"))
    insert = "INSERT INTO api_keys (name, role, key_hash) VALUES (?, 'admin', ?)"

    async def insert_two() -> None:
        async with db.transaction() as session:
            await session.insert(insert, ("b", "h2"))
            await session.insert(insert, ("c", "h1"))

    with pytest.raises(Conflict):
        await insert_two()

    assert await count_keys(db) == 1


async def test_a_read_never_sees_another_coroutines_uncommitted_writes(db: SqliteDatabase) -> None:
    inserted = asyncio.Event()
    release = asyncio.Event()

    async def write_then_fail() -> None:
        async with db.transaction() as session:
            await session.insert("INSERT INTO api_keys (name, role, key_hash) VALUES ('x', 'admin', 'h')")
            inserted.set()
            await release.wait()
            raise RuntimeError("abandon the transaction")

    writer = asyncio.create_task(write_then_fail())
    async with asyncio.timeout(5):
        await inserted.wait()
    reader = asyncio.create_task(count_keys(db))
    # Room for a reader that does not wait for the transaction to read the uncommitted row.
    await asyncio.wait({reader}, timeout=0.2)
    release.set()

    with pytest.raises(RuntimeError, match="abandon"):
        await writer
    async with asyncio.timeout(5):
        assert await reader == 0


async def test_racing_dispatchers_on_two_handles_create_each_fire_once(
    db: SqliteDatabase, other: SqliteDatabase
) -> None:
    task = await SqliteTaskRepository(db=db).add(a_task(schedule="* * * * *", next_run_at=T0))
    fire = a_run(task_id=task.id, trigger=Trigger.SCHEDULE, scheduled_for=T0)
    following = T0 + timedelta(minutes=1)

    results = await asyncio.gather(
        *(
            SqliteTaskRepository(db=handle).record_fires(task, [fire], following)
            for handle in (db, other, db, other)
        )
    )

    assert sorted(len(created) for created in results) == [0, 0, 0, 1]
    assert len((await SqliteTaskRunRepository(db=other).page(RunQuery())).items) == 1


async def test_claims_on_two_handles_never_overlap(db: SqliteDatabase, other: SqliteDatabase) -> None:
    task = await SqliteTaskRepository(db=db).add(a_task())
    runs = SqliteTaskRunRepository(db=db)
    created = [await runs.add(a_run(task_id=task.id)) for _ in range(20)]

    batches = await asyncio.gather(
        *(SqliteTaskRunRepository(db=handle).claim_pending(T0, limit=3) for handle in (db, other) * 5)
    )

    claimed = [run.id for batch in batches for run in batch]
    assert sorted(claimed) == sorted(run.id for run in created)


async def test_a_write_lock_held_too_long_is_unavailable(db: SqliteDatabase, path: Path) -> None:
    impatient = await SqliteDatabase.open(path, busy_timeout_seconds=0.05)
    try:
        async with db.transaction():
            with pytest.raises(Unavailable, match="locked"):
                await SqliteApiKeyRepository(db=impatient).add(
                    ApiKey(name="a", role=Role.ADMIN, key_hash="h")
                )
    finally:
        await impatient.close()

    assert await count_keys(db) == 0


async def test_an_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(Unavailable):
        await SqliteDatabase.open(blocker / "scheduler.db")


async def test_a_new_database_and_its_directory_are_private_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "scheduler.db"
    previous = os.umask(0o022)
    try:
        database = await SqliteDatabase.open(path)
        try:
            await migrate_sqlite(database)
            await SqliteApiKeyRepository(db=database).add(ApiKey(name="a", role=Role.ADMIN, key_hash="h"))
            files = {file.name: stat.S_IMODE(file.stat().st_mode) for file in path.parent.iterdir()}
        finally:
            await database.close()
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert files == {"scheduler.db": 0o600, "scheduler.db-wal": 0o600, "scheduler.db-shm": 0o600}
