"""The repositories under contract: one implementation of every port, sharing one store."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler_domain import (
    ApiKeyRepository,
    AuditLogRepository,
    TaskRepository,
    TaskRunRepository,
    WorkerRepository,
)
from scheduler_infrastructure import (
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    PostgresWorkerRepository,
    SqliteApiKeyRepository,
    SqliteAuditLogRepository,
    SqliteDatabase,
    SqliteTaskRepository,
    SqliteTaskRunRepository,
    SqliteWorkerRepository,
)
from scheduler_testing import (
    FakeApiKeyRepository,
    FakeAuditLogRepository,
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


def fake_stores() -> Stores:
    runs = FakeTaskRunRepository()
    return Stores(
        kind="fake",
        tasks=FakeTaskRepository(runs=runs),
        runs=runs,
        workers=FakeWorkerRepository(),
        api_keys=FakeApiKeyRepository(),
        audit=FakeAuditLogRepository(),
    )


def sqlite_stores(db: SqliteDatabase) -> Stores:
    return Stores(
        kind="sqlite",
        tasks=SqliteTaskRepository(db=db),
        runs=SqliteTaskRunRepository(db=db),
        workers=SqliteWorkerRepository(db=db),
        api_keys=SqliteApiKeyRepository(db=db),
        audit=SqliteAuditLogRepository(db=db),
    )


def postgres_stores(db: PostgresDatabase) -> Stores:
    return Stores(
        kind="postgres",
        tasks=PostgresTaskRepository(db=db),
        runs=PostgresTaskRunRepository(db=db),
        workers=PostgresWorkerRepository(db=db),
        api_keys=PostgresApiKeyRepository(db=db),
        audit=PostgresAuditLogRepository(db=db),
    )
