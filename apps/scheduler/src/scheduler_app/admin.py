"""One-shot administrative commands: migrations and API keys."""

from __future__ import annotations

from scheduler_application import AccessControl
from scheduler_config import AppConfig
from scheduler_domain import Role
from scheduler_foundation import SystemClock
from scheduler_infrastructure import SqliteApiKeyRepository, SqliteDatabase, migrate_sqlite


async def migrate_database(config: AppConfig) -> int:
    """Bring the database to the current schema; returns its version."""
    db = await SqliteDatabase.open(config.sqlite_path)
    try:
        return await migrate_sqlite(db)
    finally:
        await db.close()


async def create_api_key(config: AppConfig, *, name: str, role: str) -> str:
    """Create a key in the configured database and return its secret."""
    db = await SqliteDatabase.open(config.sqlite_path)
    try:
        await migrate_sqlite(db)
        access = AccessControl(keys=SqliteApiKeyRepository(db=db), clock=SystemClock())
        issued = await access.issue(name, Role(role))
        return issued.secret
    finally:
        await db.close()
