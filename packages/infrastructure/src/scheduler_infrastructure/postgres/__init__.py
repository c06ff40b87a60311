"""The production storage: repositories on PostgreSQL (psycopg 3, async pool) and its schema."""

from scheduler_infrastructure.postgres.api_keys import PostgresApiKeyRepository
from scheduler_infrastructure.postgres.audit_log import PostgresAuditLogRepository
from scheduler_infrastructure.postgres.database import PostgresDatabase
from scheduler_infrastructure.postgres.key_changes import PostgresKeyChanges
from scheduler_infrastructure.postgres.leases import PostgresLeaseRepository
from scheduler_infrastructure.postgres.runs import PostgresTaskRunRepository
from scheduler_infrastructure.postgres.schema import (
    Migration,
    MigrationFailed,
    check_postgres_schema,
    migrate_postgres,
    postgres_schema_version,
)
from scheduler_infrastructure.postgres.tasks import PostgresTaskRepository
from scheduler_infrastructure.postgres.wakeup import PostgresWakeup
from scheduler_infrastructure.postgres.workers import PostgresWorkerRepository

__all__ = [
    "Migration",
    "MigrationFailed",
    "PostgresApiKeyRepository",
    "PostgresAuditLogRepository",
    "PostgresDatabase",
    "PostgresKeyChanges",
    "PostgresLeaseRepository",
    "PostgresTaskRepository",
    "PostgresTaskRunRepository",
    "PostgresWakeup",
    "PostgresWorkerRepository",
    "check_postgres_schema",
    "migrate_postgres",
    "postgres_schema_version",
]
