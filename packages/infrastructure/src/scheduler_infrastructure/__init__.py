"""Adapters: SQLite and PostgreSQL repositories and their schemas, the in-process queue and wake-up,
the Redis Streams and RabbitMQ queues, and the API client of worker processes.

Names are imported on first use, each from its own module: a worker process, which needs a
broker and the API client only, does not load the database drivers, nor the broker it does not use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler_infrastructure.api_client import HttpWorkerPresence
    from scheduler_infrastructure.memory import InMemoryDelivery, InMemoryMessageQueue, LocalWakeup
    from scheduler_infrastructure.postgres import (
        PostgresApiKeyRepository,
        PostgresAuditLogRepository,
        PostgresDatabase,
        PostgresKeyChanges,
        PostgresLeaseRepository,
        PostgresTaskRepository,
        PostgresTaskRunRepository,
        PostgresWakeup,
        PostgresWorkerRepository,
        check_postgres_schema,
        migrate_postgres,
        postgres_schema_version,
    )
    from scheduler_infrastructure.rabbitmq import RabbitMQDelivery, RabbitMQQueue
    from scheduler_infrastructure.redis import RedisDelivery, RedisStreamsQueue
    from scheduler_infrastructure.sql import SchemaNotCurrent
    from scheduler_infrastructure.sqlite import (
        Migration,
        SchemaTooNew,
        SqliteApiKeyRepository,
        SqliteAuditLogRepository,
        SqliteDatabase,
        SqliteLeaseRepository,
        SqliteTaskRepository,
        SqliteTaskRunRepository,
        SqliteWorkerRepository,
    )
    from scheduler_infrastructure.sqlite import migrate as migrate_sqlite
    from scheduler_infrastructure.sqlite import schema_version as sqlite_schema_version

#: Each exported name: the module it lives in, and its name there.
_HOMES: dict[str, tuple[str, str]] = {
    "HttpWorkerPresence": ("scheduler_infrastructure.api_client", "HttpWorkerPresence"),
    "InMemoryDelivery": ("scheduler_infrastructure.memory", "InMemoryDelivery"),
    "InMemoryMessageQueue": ("scheduler_infrastructure.memory", "InMemoryMessageQueue"),
    "LocalWakeup": ("scheduler_infrastructure.memory", "LocalWakeup"),
    "Migration": ("scheduler_infrastructure.sqlite", "Migration"),
    "PostgresApiKeyRepository": ("scheduler_infrastructure.postgres", "PostgresApiKeyRepository"),
    "PostgresAuditLogRepository": ("scheduler_infrastructure.postgres", "PostgresAuditLogRepository"),
    "PostgresDatabase": ("scheduler_infrastructure.postgres", "PostgresDatabase"),
    "PostgresKeyChanges": ("scheduler_infrastructure.postgres", "PostgresKeyChanges"),
    "PostgresLeaseRepository": ("scheduler_infrastructure.postgres", "PostgresLeaseRepository"),
    "PostgresTaskRepository": ("scheduler_infrastructure.postgres", "PostgresTaskRepository"),
    "PostgresTaskRunRepository": ("scheduler_infrastructure.postgres", "PostgresTaskRunRepository"),
    "PostgresWakeup": ("scheduler_infrastructure.postgres", "PostgresWakeup"),
    "PostgresWorkerRepository": ("scheduler_infrastructure.postgres", "PostgresWorkerRepository"),
    "RabbitMQDelivery": ("scheduler_infrastructure.rabbitmq", "RabbitMQDelivery"),
    "RabbitMQQueue": ("scheduler_infrastructure.rabbitmq", "RabbitMQQueue"),
    "RedisDelivery": ("scheduler_infrastructure.redis", "RedisDelivery"),
    "RedisStreamsQueue": ("scheduler_infrastructure.redis", "RedisStreamsQueue"),
    "SchemaNotCurrent": ("scheduler_infrastructure.sql", "SchemaNotCurrent"),
    "SchemaTooNew": ("scheduler_infrastructure.sqlite", "SchemaTooNew"),
    "SqliteApiKeyRepository": ("scheduler_infrastructure.sqlite", "SqliteApiKeyRepository"),
    "SqliteAuditLogRepository": ("scheduler_infrastructure.sqlite", "SqliteAuditLogRepository"),
    "SqliteDatabase": ("scheduler_infrastructure.sqlite", "SqliteDatabase"),
    "SqliteLeaseRepository": ("scheduler_infrastructure.sqlite", "SqliteLeaseRepository"),
    "SqliteTaskRepository": ("scheduler_infrastructure.sqlite", "SqliteTaskRepository"),
    "SqliteTaskRunRepository": ("scheduler_infrastructure.sqlite", "SqliteTaskRunRepository"),
    "SqliteWorkerRepository": ("scheduler_infrastructure.sqlite", "SqliteWorkerRepository"),
    "check_postgres_schema": ("scheduler_infrastructure.postgres", "check_postgres_schema"),
    "migrate_postgres": ("scheduler_infrastructure.postgres", "migrate_postgres"),
    "migrate_sqlite": ("scheduler_infrastructure.sqlite", "migrate"),
    "postgres_schema_version": ("scheduler_infrastructure.postgres", "postgres_schema_version"),
    "sqlite_schema_version": ("scheduler_infrastructure.sqlite", "schema_version"),
}

__all__ = [
    "HttpWorkerPresence",
    "InMemoryDelivery",
    "InMemoryMessageQueue",
    "LocalWakeup",
    "Migration",
    "PostgresApiKeyRepository",
    "PostgresAuditLogRepository",
    "PostgresDatabase",
    "PostgresKeyChanges",
    "PostgresLeaseRepository",
    "PostgresTaskRepository",
    "PostgresTaskRunRepository",
    "PostgresWakeup",
    "PostgresWorkerRepository",
    "RabbitMQDelivery",
    "RabbitMQQueue",
    "RedisDelivery",
    "RedisStreamsQueue",
    "SchemaNotCurrent",
    "SchemaTooNew",
    "SqliteApiKeyRepository",
    "SqliteAuditLogRepository",
    "SqliteDatabase",
    "SqliteLeaseRepository",
    "SqliteTaskRepository",
    "SqliteTaskRunRepository",
    "SqliteWorkerRepository",
    "check_postgres_schema",
    "migrate_postgres",
    "migrate_sqlite",
    "postgres_schema_version",
    "sqlite_schema_version",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, original = home
    value = getattr(importlib.import_module(module), original)
    globals()[name] = value
    return value
