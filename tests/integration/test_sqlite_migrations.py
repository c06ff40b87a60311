"""The SQLite schema on a real file: migrating, refusing a newer schema, surviving a reopen."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from scheduler_errors import Unavailable
from scheduler_infrastructure import (
    Migration,
    SchemaTooNew,
    SqliteDatabase,
    SqliteTaskRepository,
    migrate_sqlite,
    sqlite_schema_version,
)
from scheduler_infrastructure.sqlite.schema import known_migrations, statements
from scheduler_testing import a_task

TABLES = {"tasks", "task_runs", "workers", "api_keys", "audit_log", "leases", "schema_version"}


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "scheduler.db"


@pytest.fixture
async def db(path: Path) -> AsyncIterator[SqliteDatabase]:
    database = await SqliteDatabase.open(path)
    try:
        yield database
    finally:
        await database.close()


async def tables(db: SqliteDatabase) -> set[str]:
    async with db.reading() as session:
        rows = await session.fetch_all("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in rows} - {"sqlite_sequence"}


async def test_open_creates_the_directory_in_wal_mode(db: SqliteDatabase, path: Path) -> None:
    async with db.reading() as session:
        journal = await session.fetch_one("PRAGMA journal_mode")
        foreign_keys = await session.fetch_one("PRAGMA foreign_keys")

    assert path.is_file()
    assert journal is not None
    assert journal[0] == "wal"
    assert foreign_keys is not None
    assert foreign_keys[0] == 1


async def test_migrate_builds_the_schema_from_an_empty_file(db: SqliteDatabase) -> None:
    assert await sqlite_schema_version(db) == 0

    version = await migrate_sqlite(db)

    assert version == len(known_migrations()) >= 1
    assert await sqlite_schema_version(db) == version
    assert await tables(db) == TABLES


async def test_migrating_again_changes_nothing(db: SqliteDatabase) -> None:
    first = await migrate_sqlite(db)
    second = await migrate_sqlite(db)

    async with db.reading() as session:
        applied = await session.fetch_all("SELECT version FROM schema_version")
    assert second == first
    assert [row["version"] for row in applied] == list(range(1, first + 1))


async def test_a_newer_schema_is_refused_with_what_to_do(db: SqliteDatabase) -> None:
    await migrate_sqlite(db)
    async with db.transaction() as session:
        await session.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (99, '0099_future', 'later')"
        )

    with pytest.raises(SchemaTooNew) as caught:
        await migrate_sqlite(db)

    message = str(caught.value)
    assert "99" in message
    assert "upgrade the scheduler" in message
    assert "\n" not in message


async def test_a_failing_migration_leaves_nothing_behind(db: SqliteDatabase) -> None:
    await migrate_sqlite(db)
    latest = len(known_migrations())
    broken = Migration(
        version=latest + 1,
        name=f"{latest + 1:04d}_broken",
        sql="CREATE TABLE extra (a);\nINSERT INTO missing VALUES (1);\n",
    )

    with pytest.raises(Exception, match="missing"):
        await migrate_sqlite(db, migrations=[*known_migrations(), broken])

    assert await sqlite_schema_version(db) == latest
    assert "extra" not in await tables(db)


async def test_data_survives_close_and_reopen(db: SqliteDatabase, path: Path) -> None:
    await migrate_sqlite(db)
    stored = await SqliteTaskRepository(db=db).add(a_task(name="kept", tags=("a",)))
    await db.close()

    reopened = await SqliteDatabase.open(path)
    try:
        assert await migrate_sqlite(reopened) == len(known_migrations())
        assert await SqliteTaskRepository(db=reopened).get(stored.id) == stored
    finally:
        await reopened.close()


def test_statements_split_where_sqlite_says_a_statement_ends() -> None:
    script = (
        "-- a comment; not a statement\n"
        "CREATE TABLE a (x TEXT DEFAULT 'x;y');\n\n"
        "CREATE INDEX b ON a (x);\n"
        "-- done\n"
    )

    assert statements(script) == [
        "-- a comment; not a statement\nCREATE TABLE a (x TEXT DEFAULT 'x;y');",
        "CREATE INDEX b ON a (x);",
    ]
    with pytest.raises(ValueError, match="incomplete"):
        statements("CREATE TABLE a (x)")


async def test_a_closed_database_is_unavailable(db: SqliteDatabase) -> None:
    await migrate_sqlite(db)
    assert await db.ping()

    await db.close()

    assert not await db.ping()
    with pytest.raises(Unavailable):
        await SqliteTaskRepository(db=db).get(1)
