"""Versioned migrations for PostgreSQL: `migrations/NNNN_name.sql`, applied in order.

A small runner rather than a library: the well-kept ones either bring SQLAlchemy (alembic) or
drive their own synchronous connections (yoyo, dbmate as a binary), none speaks psycopg 3's
async API, and the scheduler's needs are few: plain SQL files, a version table, one transaction
per migration, and a lock. Each migration runs in its own transaction holding a transaction-level
advisory lock keyed on the schema, so two `scheduler migrate` started at once apply each step
exactly once (the second waits, then finds it applied). DDL is transactional in PostgreSQL: a
failing migration leaves nothing behind.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple

import psycopg

from scheduler_errors import SchedulerError
from scheduler_infrastructure.postgres.database import PostgresDatabase, Session
from scheduler_infrastructure.sql import SchemaNotCurrent

#: First half of the advisory lock key ("SCHD" in ASCII); the second is a hash of the schema name,
#: so that migrations of different schemas in one database do not wait for each other.
_LOCK_NAMESPACE = 0x53434844
_LOCK = "SELECT pg_advisory_xact_lock(%(namespace)s::int, hashtext(coalesce(current_schema(), '')))"
_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER     PRIMARY KEY,
    name       TEXT        NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""
_VERSION = "SELECT coalesce(max(version), 0) AS version FROM schema_version"
_RECORD = "INSERT INTO schema_version (version, name) VALUES (%(version)s, %(name)s)"


class MigrationFailed(SchedulerError):
    """A migration's SQL failed; its transaction was rolled back, so nothing of it was applied."""

    title = "Migration failed"


class Migration(NamedTuple):
    """One step of the schema: its version (the file's number), name and SQL."""

    version: int
    name: str
    sql: str


def known_migrations() -> list[Migration]:
    """The migrations shipped with this package, by version (1, 2, ... with no gaps)."""
    folder = resources.files("scheduler_infrastructure.postgres").joinpath("migrations")
    found = sorted(
        Migration(
            int(entry.name.partition("_")[0]), entry.name.removesuffix(".sql"), entry.read_text("utf-8")
        )
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {[m.name for m in found]}")
    return found


async def migrate_postgres(db: PostgresDatabase, *, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the schema up to date; returns its version. Running it again changes nothing.

    `SchemaNotCurrent` when the database is at a version this code does not know.
    """
    steps = list(migrations) if migrations is not None else known_migrations()
    latest = steps[-1].version if steps else 0
    current = await db.run(_locked_version)
    _refuse_newer(db, current, latest)
    for step in steps:
        if step.version > current:
            current = await db.run(functools.partial(_apply, db=db, step=step, latest=latest))
    return max(current, latest)


async def postgres_schema_version(db: PostgresDatabase) -> int:
    """The version the database is at (0 before the first migration)."""
    async with db.session() as session:
        found = await session.fetch_one("SELECT to_regclass('schema_version') IS NOT NULL AS found")
        if found is None or not found["found"]:
            return 0
        row = await session.fetch_one(_VERSION)
    return int(row["version"]) if row is not None else 0


async def check_postgres_schema(db: PostgresDatabase) -> int:
    """The schema version, when it is the one this scheduler needs; else `SchemaNotCurrent`.

    The roles that share a database (`scheduler api`, `scheduler dispatcher`) call this at
    start-up instead of migrating: only `scheduler migrate` changes the schema.
    """
    latest = known_migrations()[-1].version
    version = await postgres_schema_version(db)
    if version == 0:
        raise SchemaNotCurrent(
            f"the PostgreSQL database at {db.where} has no scheduler schema yet: run `scheduler migrate`"
        )
    if version < latest:
        raise SchemaNotCurrent(
            f"the PostgreSQL database at {db.where} is at schema version {version} but this scheduler "
            f"needs version {latest}: run `scheduler migrate`"
        )
    _refuse_newer(db, version, latest)
    return version


async def _locked_version(session: Session) -> int:
    """The version, read while holding the migration lock (until the transaction ends)."""
    await session.execute(_LOCK, {"namespace": _LOCK_NAMESPACE})
    await session.execute(_VERSION_TABLE)
    row = await session.fetch_one(_VERSION)
    return int(row["version"]) if row is not None else 0


async def _apply(session: Session, *, db: PostgresDatabase, step: Migration, latest: int) -> int:
    current = await _locked_version(session)
    _refuse_newer(db, current, latest)
    # Another process may have applied it while we waited for the lock.
    if current >= step.version:
        return current
    if current != step.version - 1:
        raise RuntimeError(f"cannot apply {step.name} to a schema at version {current}")
    # Building an index on a big table may take longer than the statement timeout of the roles.
    await session.execute("SET LOCAL statement_timeout = 0")
    try:
        await session.script(step.sql)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationFailed(f"migration {step.name} failed and was rolled back ({reason})") from exc
    await session.execute(_RECORD, {"version": step.version, "name": step.name})
    return step.version


def _refuse_newer(db: PostgresDatabase, current: int, latest: int) -> None:
    if current > latest:
        raise SchemaNotCurrent(
            f"the PostgreSQL database at {db.where} is at schema version {current}, newer than this "
            f"scheduler knows ({latest}): upgrade the scheduler, or point it at another database"
        )
