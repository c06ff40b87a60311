"""Storage containers: the repositories and the dispatch wake-up of each backend.

The run repository counts the dispatches, ends and retries it stores in the process's metrics.
PostgreSQL's calls go through a circuit breaker, shown in those metrics too.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from scheduler_app import resources
from scheduler_app.containers.breakers import circuit_breaker
from scheduler_config import AppConfig
from scheduler_infrastructure import (
    LocalWakeup,
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresKeyChanges,
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
from scheduler_observability.metrics import Metrics
from scheduler_observability.run_metrics import MeteredRunRepository


class SqliteStorage(containers.DeclarativeContainer):
    """The embedded store: one SQLite file, migrated at start; wake-ups stay in the process."""

    config = providers.Dependency(instance_of=AppConfig)
    metrics = providers.Dependency(instance_of=Metrics)
    database = providers.Resource(resources.sqlite_database, config)
    tasks = providers.Singleton(SqliteTaskRepository, db=database)
    runs = providers.Singleton(
        MeteredRunRepository, providers.Singleton(SqliteTaskRunRepository, db=database), metrics
    )
    pending_claims: providers.Object[None] = providers.Object(None)  # claims, then reads the tasks
    manual_runs: providers.Object[None] = providers.Object(None)  # reads the task, then stores the run
    workers = providers.Singleton(SqliteWorkerRepository, db=database)
    api_keys = providers.Singleton(SqliteApiKeyRepository, db=database)
    audit_log = providers.Singleton(SqliteAuditLogRepository, db=database)
    leases = providers.Singleton(SqliteLeaseRepository, db=database)
    wakeup = providers.Singleton(LocalWakeup)


class PostgresStorage(containers.DeclarativeContainer):
    """The shared store: PostgreSQL, checked to be migrated at start; wake-ups by LISTEN/NOTIFY."""

    config = providers.Dependency(instance_of=AppConfig)
    metrics = providers.Dependency(instance_of=Metrics)
    breaker = providers.Singleton(circuit_breaker, "postgresql", config, metrics)
    database = providers.Resource(resources.postgres_database, config, breaker)
    tasks = providers.Singleton(PostgresTaskRepository, db=database)
    runs = providers.Singleton(
        MeteredRunRepository, providers.Singleton(PostgresTaskRunRepository, db=database), metrics
    )
    pending_claims = runs  # claims runs and reads their tasks in one statement
    manual_runs = runs  # reads a manual run's task and stores the run in one statement
    workers = providers.Singleton(PostgresWorkerRepository, db=database)
    api_keys = providers.Singleton(PostgresApiKeyRepository, db=database)
    audit_log = providers.Singleton(PostgresAuditLogRepository, db=database)
    leases = providers.Singleton(PostgresLeaseRepository, db=database)
    wakeup = providers.Resource(resources.postgres_wakeup, database)
    #: Tells the API's key cache of keys revoked elsewhere; give it `on_change`.
    key_changes = providers.Factory(PostgresKeyChanges, db=database)
