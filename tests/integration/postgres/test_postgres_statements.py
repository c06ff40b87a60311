"""No N+1: every listing is one statement, and batch operations do not grow with the batch.

Statements are counted where they leave for the server, at psycopg's `AsyncConnection.execute`
(the repositories send every statement through it; BEGIN and COMMIT are not counted).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import psycopg
import pytest

from scheduler_domain import (
    ApiKey,
    AuditEntry,
    AuditQuery,
    Role,
    RunOutcome,
    RunQuery,
    RunStatus,
    RunTransition,
    TaskQuery,
    Trigger,
    WorkerInfo,
)
from scheduler_infrastructure import (
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    PostgresWorkerRepository,
)
from scheduler_testing import a_run, a_task

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
MANY = 40


class Statements:
    """The SQL of every statement executed while recording."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def count(self, operation: Callable[[], Awaitable[Any]]) -> int:
        self.sent.clear()
        await operation()
        return len(self.sent)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Statements:
    recorder = Statements()
    execute = psycopg.AsyncConnection.execute

    async def recording(self: psycopg.AsyncConnection[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        recorder.sent.append(str(query))
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "execute", recording)
    return recorder


async def test_lists_and_sweeps_are_one_statement_whatever_their_size(
    db: PostgresDatabase, statements: Statements
) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    workers, keys, audit = (
        PostgresWorkerRepository(db=db),
        PostgresApiKeyRepository(db=db),
        PostgresAuditLogRepository(db=db),
    )
    stored = [
        await tasks.add(
            a_task(name=f"t{i}", tags=("x",), schedule="* * * * *", next_run_at=T0, dependencies=())
        )
        for i in range(MANY)
    ]
    for i in range(MANY):
        run = await runs.add(a_run(task_id=stored[i].id))
        if i % 2:
            await runs.transition(run.queued(T0 - timedelta(hours=1)), expected=RunStatus.PENDING)
        await workers.save(WorkerInfo(id=f"w{i}", hostname="h"))
        await keys.add(ApiKey(name=f"k{i}", role=Role.READONLY, key_hash=f"h{i}"))
        await audit.record(AuditEntry(actor="a", action="x", resource=f"task:{i}", at=T0))

    listings: dict[str, Callable[[], Awaitable[Any]]] = {
        "tasks.page": lambda: tasks.page(TaskQuery(tag="x", name="t", limit=100)),
        "tasks.dependency_graph": tasks.dependency_graph,
        "tasks.due": lambda: tasks.due(T0, 100),
        "runs.page": lambda: runs.page(RunQuery(status=RunStatus.PENDING, limit=100)),
        "runs.overdue": lambda: runs.overdue(T0, 0, 100),
        "runs.stale_queued": lambda: runs.stale_queued(T0, 100),
        "workers.all": workers.all,
        "api_keys.all": keys.all,
        "audit.page": lambda: audit.page(AuditQuery(actor="a", limit=100)),
    }
    for name, listing in listings.items():
        assert await statements.count(listing) == 1, f"{name}: {statements.sent}"
    assert len(await tasks.due(T0, 100)) == MANY
    assert len((await runs.page(RunQuery(limit=100))).items) == MANY


async def test_claiming_firing_and_retrying_do_not_grow_with_the_batch(
    db: PostgresDatabase, statements: Statements
) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task(name="cron", schedule="* * * * *", next_run_at=T0))
    fires = [
        a_run(task_id=task.id, trigger=Trigger.SCHEDULE, scheduled_for=T0 - timedelta(minutes=i))
        for i in range(MANY)
    ]

    assert await statements.count(lambda: tasks.record_fires(task, fires, T0 + timedelta(minutes=1))) == 2
    assert await statements.count(lambda: runs.claim_pending(T0, MANY // 2)) == 1
    assert await statements.count(lambda: runs.claim_pending_with_tasks(T0, MANY)) == 1
    [claimed, *_] = (await runs.page(RunQuery(status=RunStatus.QUEUED, limit=1))).items
    running = claimed.started("w", T0)
    await runs.transition(running, expected=RunStatus.QUEUED)
    failed = running.finished(RunOutcome(status=RunStatus.FAILED), T0)
    retry = msgspec.structs.replace(a_run(task_id=task.id), attempt=2, trigger=Trigger.RETRY)
    assert (
        await statements.count(lambda: runs.transition(failed, expected=RunStatus.RUNNING, follow_up=retry))
        == 2
    )
    assert await statements.count(lambda: runs.transition(failed, expected=RunStatus.RUNNING)) == 1


async def test_a_batch_of_transitions_opens_a_transaction_only_to_store_follow_ups_with_it(
    db: PostgresDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task(name="batch"))
    queued = [(await runs.add(a_run(task_id=task.id))).queued(T0) for _ in range(4)]
    for run in queued:
        await runs.transition(run, expected=RunStatus.PENDING)
    opened: list[object] = []
    transaction = psycopg.AsyncConnection.transaction

    def recording(self: psycopg.AsyncConnection[Any], *args: Any, **kwargs: Any) -> Any:
        opened.append(self)  # a BEGIN and a COMMIT: two round trips more
        return transaction(self, *args, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "transaction", recording)
    started = [run.started("w", T0) for run in queued]

    moved = await runs.transition_many([RunTransition(run=run, expected=RunStatus.QUEUED) for run in started])

    assert moved == started
    assert opened == []  # one UPDATE is atomic by itself
    failed = started[0].finished(RunOutcome(status=RunStatus.FAILED), T0)
    retry = msgspec.structs.replace(a_run(task_id=task.id), attempt=2, trigger=Trigger.RETRY)

    await runs.transition_many([RunTransition(run=failed, expected=RunStatus.RUNNING, follow_up=retry)])

    assert len(opened) == 1  # the UPDATE and the INSERT of the retry commit together
    stored = (await runs.page(RunQuery(limit=10))).items
    assert sorted((run.attempt, run.status) for run in stored if run.trigger is Trigger.RETRY) == [
        (2, RunStatus.PENDING)
    ]
