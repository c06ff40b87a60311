"""Several dispatchers, each on its own pool and connection, racing over one database.

However they interleave, a cron fire gets exactly one run and a pending run is claimed once,
and nothing due is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from scheduler_domain import Priority, RunQuery, RunStatus, Task, TaskRun, Trigger
from scheduler_infrastructure import (
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    migrate_postgres,
)
from scheduler_infrastructure.postgres.runs import insert_runs
from scheduler_testing import a_run, a_task
from tests.integration.postgres.server import open_database

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NEXT = T0 + timedelta(minutes=1)
CLAIMERS = 4
DUE_TASKS = 200
PENDING_RUNS = 1000


@contextlib.asynccontextmanager
async def claimers(schema: str) -> AsyncIterator[list[PostgresDatabase]]:
    """One single-connection pool per claimer, as separate dispatcher processes would have."""
    async with contextlib.AsyncExitStack() as stack:
        dbs = [await stack.enter_async_context(open_database(schema, max_size=1)) for _ in range(CLAIMERS)]
        assert len({await backend_pid(db) for db in dbs}) == CLAIMERS
        yield dbs


async def backend_pid(db: PostgresDatabase) -> int:
    async with db.session() as session:
        row = await session.fetch_one("SELECT pg_backend_pid() AS pid")
    assert row is not None
    return int(row["pid"])


async def count_by_status(db: PostgresDatabase) -> dict[RunStatus, int]:
    async with db.session() as session:
        rows = await session.fetch_all("SELECT status, count(*) AS runs FROM task_runs GROUP BY status")
    return {RunStatus(row["status"]): row["runs"] for row in rows}


def a_fire(task: Task) -> TaskRun:
    return a_run(task_id=task.id, trigger=Trigger.SCHEDULE, scheduled_for=task.next_run_at, created_at=T0)


async def fire_until_nothing_is_due(db: PostgresDatabase, start: asyncio.Barrier, seed: int) -> list[TaskRun]:
    """Fire what is due until nothing is, taking each batch in an order of this claimer's own.

    In the same order, claimers run in lockstep and the first to start wins every race; in
    different orders each wins some, as dispatchers that read at different moments would.
    """
    tasks = PostgresTaskRepository(db=db)
    order = random.Random(seed)
    created: list[TaskRun] = []
    await start.wait()
    while due := list(await tasks.due(T0, limit=25)):
        order.shuffle(due)
        for task in due:
            created += await tasks.record_fires(task, [a_fire(task)], NEXT)
    return created


async def claim_until_none_is_left(
    db: PostgresDatabase, start: asyncio.Barrier, *, with_tasks: bool = False
) -> list[TaskRun]:
    runs = PostgresTaskRunRepository(db=db)
    claimed: list[TaskRun] = []
    await start.wait()
    while True:
        if with_tasks:
            batch, tasks = await runs.claim_pending_with_tasks(T0, limit=20)
            assert set(tasks) == {run.task_id for run in batch}
        else:
            batch = await runs.claim_pending(T0, limit=20)
        if not batch:
            return claimed
        claimed += batch


async def test_racing_dispatchers_give_every_due_fire_exactly_one_run(schema: str) -> None:
    async with open_database(schema) as setup:
        await migrate_postgres(setup)
        repo = PostgresTaskRepository(db=setup)
        tasks = [
            await repo.add(
                a_task(name=f"cron-{i}", schedule="* * * * *", next_run_at=T0 - timedelta(seconds=i % 7))
            )
            for i in range(DUE_TASKS)
        ]
        start = asyncio.Barrier(CLAIMERS)
        async with claimers(schema) as dbs:
            results = await asyncio.gather(
                *(fire_until_nothing_is_due(db, start, seed) for seed, db in enumerate(dbs))
            )

        created = [run for result in results for run in result]
        stored = (await PostgresTaskRunRepository(db=setup).page(RunQuery(limit=500))).items
        assert sorted(run.task_id for run in created) == sorted(task.id for task in tasks)
        assert sorted(run.id for run in created) == sorted(run.id for run in stored)
        assert sum(1 for result in results if result) > 1, "the race never happened: one dispatcher did all"
        assert await repo.due(T0, limit=500) == []
        assert {(await repo.get(task.id)).next_run_at for task in tasks} == {NEXT}


@pytest.mark.parametrize("with_tasks", [False, True], ids=["claim_pending", "claim_pending_with_tasks"])
async def test_racing_dispatchers_claim_every_pending_run_exactly_once(schema: str, with_tasks: bool) -> None:
    async with open_database(schema) as setup:
        await migrate_postgres(setup)
        task = await PostgresTaskRepository(db=setup).add(a_task(name="busy"))
        priorities = list(Priority)
        pending = [
            a_run(task_id=task.id, priority=priorities[i % 4], scheduled_for=T0 - timedelta(seconds=i % 11))
            for i in range(PENDING_RUNS)
        ]
        future = a_run(task_id=task.id, scheduled_for=T0 + timedelta(hours=1))
        async with setup.transaction() as session:
            stored = await insert_runs(session, [*pending, future])
        start = asyncio.Barrier(CLAIMERS)
        async with claimers(schema) as dbs:
            results = await asyncio.gather(
                *(claim_until_none_is_left(db, start, with_tasks=with_tasks) for db in dbs)
            )

        claimed = Counter(run.id for result in results for run in result)
        assert max(claimed.values()) == 1, "a run was claimed twice"
        assert sorted(claimed) == sorted(run.id for run in stored[:PENDING_RUNS])
        assert sum(1 for result in results if result) > 1, "the race never happened: one claimer did all"
        assert (await PostgresTaskRunRepository(db=setup).get(stored[-1].id)).status is RunStatus.PENDING
        assert await count_by_status(setup) == {RunStatus.QUEUED: PENDING_RUNS, RunStatus.PENDING: 1}


async def test_each_claimer_gets_its_batch_in_dispatch_order(schema: str) -> None:
    async with open_database(schema) as setup:
        await migrate_postgres(setup)
        task = await PostgresTaskRepository(db=setup).add(a_task(name="ordered"))
        async with setup.transaction() as session:
            await insert_runs(
                session,
                [
                    a_run(
                        task_id=task.id,
                        priority=list(Priority)[i % 4],
                        scheduled_for=T0 - timedelta(seconds=i),
                    )
                    for i in range(100)
                ],
            )
        start = asyncio.Barrier(CLAIMERS)
        async with claimers(schema) as dbs:
            results = await asyncio.gather(*(claim_until_none_is_left(db, start) for db in dbs))

    for result in results:
        for batch_start in range(0, len(result), 20):
            batch = result[batch_start : batch_start + 20]
            keys = [(-run.priority.rank, run.scheduled_for) for run in batch]
            assert keys == sorted(keys)
