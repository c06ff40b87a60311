"""The repositories under contract: one implementation of every port, sharing one store."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler_domain import (
    ApiKeyRepository,
    AuditLogRepository,
    LeaseRepository,
    TaskRepository,
    TaskRunRepository,
    WorkerRepository,
)
from scheduler_infrastructure import (
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresDatabase,
    PostgresLeaseRepository,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    PostgresWorkerRepository,
    SqliteApiKeyRepository,
    SqliteAuditLogRepository,
    SqliteDatabase,
    SqliteLeaseRepository,
    SqliteTaskRepository,
    SqliteTaskRunRepository,
    SqliteWorkerRepository,
)
from scheduler_testing import (
    FakeApiKeyRepository,
    FakeAuditLogRepository,
    FakeLeaseRepository,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWorkerRepository,
)


@dataclass(frozen=True)
class Stores:
    """One implementation of every repository port, sharing one store."""

    kind: str
    tasks: TaskRepository
    runs: TaskRunRepository
    workers: WorkerRepository
    api_keys: ApiKeyRepository
    audit: AuditLogRepository
    leases: LeaseRepository


def fake_stores() -> Stores:
    runs = FakeTaskRunRepository()
    return Stores(
        kind="fake",
        tasks=FakeTaskRepository(runs=runs),
        runs=runs,
        workers=FakeWorkerRepository(),
        api_keys=FakeApiKeyRepository(),
        audit=FakeAuditLogRepository(),
        leases=FakeLeaseRepository(),
    )


def sqlite_stores(db: SqliteDatabase) -> Stores:
    return Stores(
        kind="sqlite",
        tasks=SqliteTaskRepository(db=db),
        runs=SqliteTaskRunRepository(db=db),
        workers=SqliteWorkerRepository(db=db),
        api_keys=SqliteApiKeyRepository(db=db),
        audit=SqliteAuditLogRepository(db=db),
        leases=SqliteLeaseRepository(db=db),
    )


def postgres_stores(db: PostgresDatabase) -> Stores:
    return Stores(
        kind="postgres",
        tasks=PostgresTaskRepository(db=db),
        runs=PostgresTaskRunRepository(db=db),
        workers=PostgresWorkerRepository(db=db),
        api_keys=PostgresApiKeyRepository(db=db),
        audit=PostgresAuditLogRepository(db=db),
        leases=PostgresLeaseRepository(db=db),
    )
