"""The PostgreSQL server the tests use: a fresh schema per test, dropped afterwards.

The server is at `SCHEDULER_TEST_POSTGRES_URL` (default: the local test server). When it does
not answer, the test fails and says how to start it: a missing server is never a skip.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from scheduler_infrastructure import PostgresDatabase, migrate_postgres

POSTGRES_URL = os.environ.get("SCHEDULER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
START_IT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
    "or point SCHEDULER_TEST_POSTGRES_URL at a server that accepts connections"
)


async def admin_connection() -> psycopg.AsyncConnection[tuple[object, ...]]:
    """An autocommit connection to the test server; fails the test, saying what to do, if it is down."""
    try:
        return await psycopg.AsyncConnection.connect(POSTGRES_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[0]
        pytest.fail(f"PostgreSQL does not answer at {POSTGRES_URL} ({reason}): {START_IT}", pytrace=False)


def schema_url(schema: str) -> str:
    """The test server's conninfo with `schema` first on the search path."""
    return make_conninfo(POSTGRES_URL, options=f"-c search_path={schema}")


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """A new empty schema `test_<random>`, dropped with everything in it afterwards."""
    name = f"test_{secrets.token_hex(6)}"
    async with await admin_connection() as admin:
        await admin.execute(f"CREATE SCHEMA {name}")
    try:
        yield name
    finally:
        async with await admin_connection() as admin:
            await admin.execute(f"DROP SCHEMA {name} CASCADE")


@contextlib.asynccontextmanager
async def open_database(
    schema: str, *, max_size: int = 4, **options: float
) -> AsyncIterator[PostgresDatabase]:
    """A database (pool) on `schema`, closed afterwards."""
    db = await PostgresDatabase.open(schema_url(schema), min_size=1, max_size=max_size, **options)
    try:
        yield db
    finally:
        await db.close()


@contextlib.asynccontextmanager
async def migrated_database(*, max_size: int = 4) -> AsyncIterator[PostgresDatabase]:
    """A database on a fresh schema at the current version, dropped afterwards."""
    async with fresh_schema() as schema, open_database(schema, max_size=max_size) as db:
        await migrate_postgres(db)
        yield db
