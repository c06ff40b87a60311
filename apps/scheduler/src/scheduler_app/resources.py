"""Resources with a lifetime: opened when a container starts, closed when it stops."""

from __future__ import annotations

from collections.abc import AsyncIterator

from scheduler_config import AppConfig
from scheduler_infrastructure import InMemoryMessageQueue, SqliteDatabase, migrate_sqlite


async def sqlite_database(config: AppConfig) -> AsyncIterator[SqliteDatabase]:
    """The embedded database, migrated to the current schema."""
    db = await SqliteDatabase.open(config.sqlite_path)
    try:
        await migrate_sqlite(db)
        yield db
    finally:
        await db.close()


async def in_process_queue() -> AsyncIterator[InMemoryMessageQueue]:
    """The in-process message queue."""
    queue = InMemoryMessageQueue()
    try:
        yield queue
    finally:
        await queue.close()
