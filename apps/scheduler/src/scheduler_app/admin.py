"""One-shot administrative commands: migrations and API keys, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from scheduler_app.resources import open_postgres
from scheduler_application import AccessControl
from scheduler_config import AppConfig
from scheduler_domain import ApiKeyRepository, Role
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
