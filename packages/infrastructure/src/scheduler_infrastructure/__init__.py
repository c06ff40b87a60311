"""Adapters: SQLite and PostgreSQL repositories and their schemas, the in-process queue and wake-up."""

from scheduler_infrastructure.api_client import HttpWorkerPresence
from scheduler_infrastructure.memory import InMemoryDelivery, InMemoryMessageQueue, LocalWakeup
from scheduler_infrastructure.postgres import (
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresDatabase,
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

__all__ = [
    "HttpWorkerPresence",
    "InMemoryDelivery",
    "InMemoryMessageQueue",
    "LocalWakeup",
    "Migration",
    "PostgresApiKeyRepository",
    "PostgresAuditLogRepository",
    "PostgresDatabase",
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
