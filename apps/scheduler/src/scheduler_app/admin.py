"""One-shot administrative commands: migrations and API keys, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from scheduler_app.resources import open_postgres
from scheduler_application import AccessControl
from scheduler_config import AppConfig
from scheduler_domain import ApiKey, ApiKeyRepository, Role
from scheduler_foundation import SystemClock
from scheduler_infrastructure import (
    PostgresApiKeyRepository,
    SqliteApiKeyRepository,
    SqliteDatabase,
    check_postgres_schema,
    migrate_postgres,
    migrate_sqlite,
)


async def migrate_database(config: AppConfig) -> int:
    """Bring the configured database to the current schema; returns its version."""
    if config.database_url.startswith("sqlite:///"):
        sqlite = await SqliteDatabase.open(config.sqlite_path)
        try:
            return await migrate_sqlite(sqlite)
        finally:
            await sqlite.close()
    postgres = await open_postgres(config)
    try:
        return await migrate_postgres(postgres)
    finally:
        await postgres.close()


async def create_api_key(config: AppConfig, *, name: str, role: str) -> str:
    """Create a key in the configured database and return its secret."""
    async with _api_keys(config) as keys:
        issued = await AccessControl(keys=keys, clock=SystemClock()).issue(name, Role(role))
        return issued.secret


async def list_api_keys(config: AppConfig) -> list[ApiKey]:
    """Every key of the configured database, by id (hashes only, never a secret)."""
    async with _api_keys(config) as keys:
        return await keys.all()


async def revoke_api_key(config: AppConfig, key_id: int) -> tuple[ApiKey, bool]:
    """Revoke a key of the configured database now; returns it, and whether it was revoked
    already (it keeps the time it was first revoked). `NotFound` for an unknown id."""
    clock = SystemClock()
    async with _api_keys(config) as keys:
        now = clock.now()
        await AccessControl(keys=keys, clock=clock).revoke(key_id)
        key = next(key for key in await keys.all() if key.id == key_id)
        return key, key.revoked_at is not None and key.revoked_at < now  # kept from before


def key_table(keys: list[ApiKey]) -> str:
    """`keys` as a table with a header, one key per line; `-` for a time not set."""
    rows: list[tuple[str, ...]] = [("ID", "NAME", "ROLE", "CREATED", "EXPIRES", "REVOKED")]
    rows += [
        (
            str(key.id),
            key.name,
            key.role.value,
            *(moment(at) for at in (key.created_at, key.expires_at, key.revoked_at)),
        )
        for key in keys
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def moment(at: datetime | None) -> str:
    """`at` as an ISO 8601 time in UTC, to the second; `-` for none."""
    return "-" if at is None else at.astimezone(UTC).isoformat(timespec="seconds")


@contextlib.asynccontextmanager
async def _api_keys(config: AppConfig) -> AsyncIterator[ApiKeyRepository]:
    if config.database_url.startswith("sqlite:///"):
        sqlite = await SqliteDatabase.open(config.sqlite_path)
        try:
            await migrate_sqlite(sqlite)
            yield SqliteApiKeyRepository(db=sqlite)
        finally:
            await sqlite.close()
        return
    postgres = await open_postgres(config)
    try:
        await check_postgres_schema(postgres)
        yield PostgresApiKeyRepository(db=postgres)
    finally:
        await postgres.close()
