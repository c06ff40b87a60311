"""Versioned migrations: `migrations/NNNN_name.sql`, applied in order, each in its own transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from importlib import resources
from typing import NamedTuple

from scheduler_domain import utc_now
from scheduler_infrastructure.sql import SchemaNotCurrent
from scheduler_infrastructure.sqlite.database import Session, SqliteDatabase

_VERSION_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
)
"""


class SchemaTooNew(SchemaNotCurrent):
    """The database was migrated by a newer scheduler than this one."""

    title = "Database schema too new"


class Migration(NamedTuple):
    """One step of the schema: its version (the file's number), name and SQL."""

    version: int
    name: str
    sql: str


def known_migrations() -> list[Migration]:
    """The migrations shipped with this package, by version (1, 2, ... with no gaps)."""
    folder = resources.files("scheduler_infrastructure.sqlite").joinpath("migrations")
    found = sorted(
        _migration_of(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps: {[m.name for m in found]}")
    return found


def _migration_of(filename: str, sql: str) -> Migration:
    number, _, _ = filename.partition("_")
    return Migration(version=int(number), name=filename.removesuffix(".sql"), sql=sql)


def statements(sql: str) -> list[str]:
    """The SQL statements of a script, split where SQLite says a statement is complete."""
    found: list[str] = []
    pending = ""
    for line in sql.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if any(line.strip() and not line.strip().startswith("--") for line in pending.splitlines()):
        raise ValueError(f"incomplete SQL statement at the end of a migration: {pending.strip()!r}")
    return found


async def migrate(db: SqliteDatabase, *, migrations: Sequence[Migration] | None = None) -> int:
    """Bring the schema up to date; returns its version. Running it again changes nothing.

    `SchemaTooNew` when the database is at a version this code does not know.
    """
    steps = list(migrations) if migrations is not None else known_migrations()
    latest = steps[-1].version if steps else 0
    async with db.transaction() as session:
        await session.execute(_VERSION_TABLE)
        current = await _version(session)
    if current > latest:
        raise SchemaTooNew(
            f"the database schema is at version {current} but this scheduler knows only up to "
            f"{latest}: upgrade the scheduler, or point it at another database"
        )
    for step in steps:
        async with db.transaction() as session:
            # Another process may have applied it since we looked.
            if await _version(session) >= step.version:
                continue
            for statement in statements(step.sql):
                await session.execute(statement)
            await session.execute(
                "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                (step.version, step.name, utc_now().isoformat()),
            )
    return max(current, latest)


async def schema_version(db: SqliteDatabase) -> int:
    """The version the database is at (0 before the first migration)."""
    async with db.reading() as session:
        exists = await session.fetch_one(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        )
        return await _version(session) if exists else 0


async def _version(session: Session) -> int:
    row = await session.fetch_one("SELECT COALESCE(MAX(version), 0) FROM schema_version")
    return int(row[0]) if row is not None else 0
