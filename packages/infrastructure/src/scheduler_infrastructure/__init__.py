"""Adapters: SQLite repositories and their schema, the in-process queue and wake-up."""

from scheduler_infrastructure.memory import InMemoryDelivery, InMemoryMessageQueue, LocalWakeup
from scheduler_infrastructure.sqlite import (
    Migration,
    SchemaTooNew,
    SqliteApiKeyRepository,
    SqliteDatabase,
    SqliteTaskRepository,
    SqliteTaskRunRepository,
    SqliteWorkerRepository,
)
from scheduler_infrastructure.sqlite import migrate as migrate_sqlite
from scheduler_infrastructure.sqlite import schema_version as sqlite_schema_version

__all__ = [
    "InMemoryDelivery",
    "InMemoryMessageQueue",
    "LocalWakeup",
    "Migration",
    "SchemaTooNew",
    "SqliteApiKeyRepository",
    "SqliteDatabase",
    "SqliteTaskRepository",
    "SqliteTaskRunRepository",
    "SqliteWorkerRepository",
    "migrate_sqlite",
    "sqlite_schema_version",
]
