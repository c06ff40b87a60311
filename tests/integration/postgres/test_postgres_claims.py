"""Claiming pending runs together with their tasks, as the dispatcher does in one statement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from scheduler_domain import Priority, RunStatus, TaskStatus
from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository, PostgresTaskRunRepository
from scheduler_testing import a_run, a_task

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_claimed_runs_come_with_each_of_their_tasks_once(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    busy = await tasks.add(a_task(name="busy", arguments={"a": 1}, tags=("x",)))
    gone = await tasks.add(a_task(name="gone"))
    stored = [
        await runs.add(a_run(task_id=busy.id, priority=Priority.LOW)),
        await runs.add(a_run(task_id=gone.id, priority=Priority.HIGH)),
        await runs.add(a_run(task_id=busy.id, priority=Priority.CRITICAL)),
        await runs.add(a_run(task_id=busy.id, scheduled_for=T0 - timedelta(seconds=1))),
        await runs.add(a_run(task_id=gone.id, scheduled_for=T0 + timedelta(hours=1))),
    ]
    archived = await tasks.update(msgspec.structs.replace(gone, status=TaskStatus.ARCHIVED))

    claimed, claimed_tasks = await runs.claim_pending_with_tasks(T0, 10)

    assert [run.id for run in claimed] == [stored[2].id, stored[1].id, stored[3].id, stored[0].id]
    assert all(run.status is RunStatus.QUEUED and run.queued_at == T0 for run in claimed)
    assert claimed == [await runs.get(run.id) for run in claimed]
    assert dict(claimed_tasks) == {busy.id: await tasks.get(busy.id), gone.id: archived}
    assert await runs.claim_pending_with_tasks(T0, 10) == ([], {})


async def test_a_claim_with_tasks_takes_at_most_its_limit(db: PostgresDatabase) -> None:
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task())
    for _ in range(5):
        await runs.add(a_run(task_id=task.id))

    first, first_tasks = await runs.claim_pending_with_tasks(T0, 3)
    rest, _ = await runs.claim_pending_with_tasks(T0, 3)

    assert (len(first), len(rest)) == (3, 2)
    assert set(first_tasks) == {task.id}
