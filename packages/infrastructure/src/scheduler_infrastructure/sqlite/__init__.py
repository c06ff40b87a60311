"""The embedded storage: repositories on an SQLite file, and its versioned schema."""

from scheduler_infrastructure.sqlite.api_keys import SqliteApiKeyRepository
from scheduler_infrastructure.sqlite.audit_log import SqliteAuditLogRepository
from scheduler_infrastructure.sqlite.database import SqliteDatabase
from scheduler_infrastructure.sqlite.leases import SqliteLeaseRepository
from scheduler_infrastructure.sqlite.runs import SqliteTaskRunRepository
from scheduler_infrastructure.sqlite.schema import Migration, SchemaTooNew, migrate, schema_version
from scheduler_infrastructure.sqlite.tasks import SqliteTaskRepository
from scheduler_infrastructure.sqlite.workers import SqliteWorkerRepository

__all__ = [
    "Migration",
    "SchemaTooNew",
    "SqliteApiKeyRepository",
    "SqliteAuditLogRepository",
    "SqliteDatabase",
    "SqliteLeaseRepository",
    "SqliteTaskRepository",
    "SqliteTaskRunRepository",
    "SqliteWorkerRepository",
    "migrate",
    "schema_version",
]
