"""The PostgreSQL schema: migrating from empty, again, concurrently; refusing a schema not current."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap

import pytest

from scheduler_infrastructure import (
    PostgresDatabase,
    PostgresTaskRepository,
    SchemaNotCurrent,
    check_postgres_schema,
    migrate_postgres,
    postgres_schema_version,
)
from scheduler_infrastructure.postgres.schema import Migration, MigrationFailed, known_migrations
from scheduler_testing import a_task
from tests.integration.postgres.server import open_database, schema_url

LATEST = len(known_migrations())
TABLES = {"tasks", "task_runs", "workers", "api_keys", "audit_log", "leases", "schema_version"}
#: The seed's indexes, and the ones claiming, firing and uniqueness rely on.
INDEXES = {
    "tasks_status",
    "tasks_schedule",
    "tasks_next_run_at",
    "tasks_due",
    "tasks_active_name",
    "task_runs_task_id",
    "task_runs_status",
    "task_runs_worker_id",
    "task_runs_created_at",
    "task_runs_claimable",
    "task_runs_one_per_fire",
    "task_runs_idempotency_key",
    "workers_status",
    "workers_last_heartbeat",
    "workers_task_types",
    "api_keys_key_hash",
}


async def tables(db: PostgresDatabase) -> set[str]:
    async with db.session() as session:
        rows = await session.fetch_all("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {row["tablename"] for row in rows}


async def indexes(db: PostgresDatabase) -> set[str]:
    async with db.session() as session:
        rows = await session.fetch_all("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    return {row["indexname"] for row in rows}


async def applied(db: PostgresDatabase) -> list[tuple[int, object]]:
    async with db.session() as session:
        rows = await session.fetch_all("SELECT version, applied_at FROM schema_version ORDER BY version")
    return [(row["version"], row["applied_at"]) for row in rows]


async def test_migrate_builds_the_schema_from_empty(schema: str) -> None:
    async with open_database(schema) as db:
        assert await postgres_schema_version(db) == 0
        assert await tables(db) == set()

        version = await migrate_postgres(db)

        assert version == LATEST >= 2
        assert await postgres_schema_version(db) == LATEST
        assert await check_postgres_schema(db) == LATEST
        assert await tables(db) == TABLES
        assert await indexes(db) >= INDEXES


async def test_migrating_again_changes_nothing(schema: str) -> None:
    async with open_database(schema) as db:
        await migrate_postgres(db)
        stored = await PostgresTaskRepository(db=db).add(a_task(name="kept"))
        before = await applied(db)

        assert await migrate_postgres(db) == LATEST
        assert await applied(db) == before
        assert [version for version, _ in before] == list(range(1, LATEST + 1))
        assert await PostgresTaskRepository(db=db).get(stored.id) == stored


async def test_two_migrations_at_once_from_two_pools_apply_each_step_once(schema: str) -> None:
    async with open_database(schema) as first, open_database(schema) as second:
        versions = await asyncio.gather(migrate_postgres(first), migrate_postgres(second))

        assert versions == [LATEST, LATEST]
        assert [version for version, _ in await applied(first)] == list(range(1, LATEST + 1))


def test_two_migrate_processes_at_once_apply_each_step_once(schema: str) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from scheduler_infrastructure import PostgresDatabase, migrate_postgres

        async def main() -> int:
            db = await PostgresDatabase.open(sys.argv[1])
            try:
                return await migrate_postgres(db)
            finally:
                await db.close()

        print(asyncio.run(main()))
        """
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, schema_url(schema)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]

    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
        assert out.decode().strip() == str(LATEST)

    async def check() -> list[int]:
        async with open_database(schema) as db:
            return [version for version, _ in await applied(db)]

    assert asyncio.run(check()) == list(range(1, LATEST + 1))


async def test_an_unmigrated_database_is_refused_with_what_to_run(schema: str) -> None:
    async with open_database(schema) as db:
        with pytest.raises(SchemaNotCurrent) as caught:
            await check_postgres_schema(db)

    message = str(caught.value)
    assert "no scheduler schema" in message
    assert "run `scheduler migrate`" in message
    assert "\n" not in message


async def test_a_database_behind_is_refused_with_what_to_run(schema: str) -> None:
    async with open_database(schema) as db:
        await migrate_postgres(db, migrations=known_migrations()[:1])

        with pytest.raises(SchemaNotCurrent) as caught:
            await check_postgres_schema(db)

        message = str(caught.value)
        assert f"at schema version 1 but this scheduler needs version {LATEST}" in message
        assert "run `scheduler migrate`" in message
        assert "\n" not in message
        assert await migrate_postgres(db) == LATEST
        assert await check_postgres_schema(db) == LATEST


async def test_a_newer_schema_is_refused_with_what_to_do(schema: str) -> None:
    async with open_database(schema) as db:
        await migrate_postgres(db)
        async with db.session() as session:
            await session.execute("INSERT INTO schema_version (version, name) VALUES (99, '0099_future')")

        with pytest.raises(SchemaNotCurrent) as checked:
            await check_postgres_schema(db)
        with pytest.raises(SchemaNotCurrent) as migrated:
            await migrate_postgres(db)

    for caught in (checked, migrated):
        message = str(caught.value)
        assert "version 99, newer than this scheduler knows" in message
        assert "upgrade the scheduler" in message
        assert "\n" not in message


async def test_a_failing_migration_leaves_nothing_behind(schema: str) -> None:
    broken = Migration(
        version=LATEST + 1,
        name=f"{LATEST + 1:04d}_broken",
        sql="CREATE TABLE extra (a INTEGER);\nINSERT INTO missing VALUES (1);\n",
    )
    async with open_database(schema) as db:
        await migrate_postgres(db)

        with pytest.raises(MigrationFailed, match=f"{broken.name} failed and was rolled back .*missing"):
            await migrate_postgres(db, migrations=[*known_migrations(), broken])

        assert await postgres_schema_version(db) == LATEST
        assert "extra" not in await tables(db)


async def test_using_an_unmigrated_database_says_to_migrate(schema: str) -> None:
    async with open_database(schema) as db:
        with pytest.raises(SchemaNotCurrent, match="run `scheduler migrate`"):
            await PostgresTaskRepository(db=db).get(1)
