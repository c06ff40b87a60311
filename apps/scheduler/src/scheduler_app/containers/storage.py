"""Storage containers: the repositories and the dispatch wake-up of each backend."""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app import resources
from scheduler_config import AppConfig
from scheduler_infrastructure import (
    LocalWakeup,
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresLeaseRepository,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    PostgresWorkerRepository,
    SqliteApiKeyRepository,
    SqliteAuditLogRepository,
    SqliteLeaseRepository,
    SqliteTaskRepository,
    SqliteTaskRunRepository,
    SqliteWorkerRepository,
)


class SqliteStorage(containers.DeclarativeContainer):
    """The embedded store: one SQLite file, migrated at start; wake-ups stay in the process."""

    config = providers.Dependency(instance_of=AppConfig)
    database = providers.Resource(resources.sqlite_database, config)
    tasks = providers.Singleton(SqliteTaskRepository, db=database)
    runs = providers.Singleton(SqliteTaskRunRepository, db=database)
    pending_claims: providers.Object[None] = providers.Object(None)  # claims, then reads the tasks
    workers = providers.Singleton(SqliteWorkerRepository, db=database)
    api_keys = providers.Singleton(SqliteApiKeyRepository, db=database)
    audit_log = providers.Singleton(SqliteAuditLogRepository, db=database)
    leases = providers.Singleton(SqliteLeaseRepository, db=database)
    wakeup = providers.Singleton(LocalWakeup)


class PostgresStorage(containers.DeclarativeContainer):
    """The shared store: PostgreSQL, checked to be migrated at start; wake-ups by LISTEN/NOTIFY."""

    config = providers.Dependency(instance_of=AppConfig)
    database = providers.Resource(resources.postgres_database, config)
    tasks = providers.Singleton(PostgresTaskRepository, db=database)
    runs = providers.Singleton(PostgresTaskRunRepository, db=database)
    pending_claims = runs  # claims runs and reads their tasks in one statement
    workers = providers.Singleton(PostgresWorkerRepository, db=database)
    api_keys = providers.Singleton(PostgresApiKeyRepository, db=database)
    audit_log = providers.Singleton(PostgresAuditLogRepository, db=database)
    leases = providers.Singleton(PostgresLeaseRepository, db=database)
    wakeup = providers.Resource(resources.postgres_wakeup, database)
