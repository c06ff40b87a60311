"""Two dispatchers, each on its own connection, finishing the two upstreams of diamonds at once.

However their reads and writes interleave, every wave gets one run of D, released once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from scheduler_application import RunLifecycle
from scheduler_domain import RunOutcome, RunQuery, RunStatus, Task, TaskRun, Trigger
from scheduler_infrastructure import (
    PostgresDatabase,
    PostgresTaskRepository,
    PostgresTaskRunRepository,
    migrate_postgres,
)
from scheduler_testing import FakeClock, a_task
from tests.integration.postgres.server import open_database

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DIAMONDS = 25


@contextlib.asynccontextmanager
async def two_dispatchers(schema: str) -> AsyncIterator[list[RunLifecycle]]:
    """The run lifecycle of two dispatchers, each with a single-connection pool of its own."""
    async with open_database(schema, max_size=1) as first, open_database(schema, max_size=1) as second:
        yield [lifecycle_on(db) for db in (first, second)]


def lifecycle_on(db: PostgresDatabase) -> RunLifecycle:
    runs = PostgresTaskRunRepository(db=db)
    return RunLifecycle(runs=runs, tasks=PostgresTaskRepository(db=db), clock=FakeClock(T0))


async def a_running_diamond(db: PostgresDatabase, index: int) -> tuple[Task, TaskRun, TaskRun]:
    """A -> B, A -> C, B and C -> D, with A succeeded and B and C running in A's wave."""
    tasks, runs = PostgresTaskRepository(db=db), PostgresTaskRunRepository(db=db)
    a = await tasks.add(a_task(name=f"a-{index}"))
    b = await tasks.add(a_task(name=f"b-{index}", dependencies=(a.id,)))
    c = await tasks.add(a_task(name=f"c-{index}", dependencies=(a.id,)))
    d = await tasks.add(a_task(name=f"d-{index}", dependencies=(b.id, c.id)))
    root = await runs.add(TaskRun(task_id=a.id, status=RunStatus.SUCCEEDED))

    async def running(task: Task) -> TaskRun:
        run = TaskRun(
            task_id=task.id,
            trigger=Trigger.DEPENDENCY,
            wave_id=root.id,
            status=RunStatus.RUNNING,
            worker_id="w",
            started_at=T0,
        )
        return await runs.add(run)

    return d, await running(b), await running(c)


async def finish_together(lifecycles: list[RunLifecycle], pairs: list[tuple[TaskRun, TaskRun]]) -> None:
    """The first dispatcher reports every B succeeded while the second reports every C."""
    done = RunOutcome(status=RunStatus.SUCCEEDED)
    start = asyncio.Barrier(2)

    async def finish(lifecycle: RunLifecycle, which: int) -> None:
        await start.wait()
        for pair in pairs:
            assert await lifecycle.finish(pair[which].id, 1, "w", done) is not None

    await asyncio.gather(finish(lifecycles[0], 0), finish(lifecycles[1], 1))


async def test_upstreams_ending_together_release_one_downstream_run_once(schema: str) -> None:
    async with open_database(schema) as db:
        await migrate_postgres(db)
        diamonds = [await a_running_diamond(db, index) for index in range(DIAMONDS)]
        async with two_dispatchers(schema) as lifecycles:
            await finish_together(lifecycles, [(b, c) for _, b, c in diamonds])
        runs = PostgresTaskRunRepository(db=db)
        d_runs = [(await runs.page(RunQuery(task_id=d.id))).items for d, _, _ in diamonds]
        claimed = await runs.claim_pending(T0, limit=1000)

    assert all(len(found) == 1 for found in d_runs)
    assert {(run.status, run.waiting, run.trigger) for [run] in d_runs} == {
        (RunStatus.PENDING, False, Trigger.DEPENDENCY)
    }
    assert sorted(run.task_id for run in claimed) == sorted(d.id for d, _, _ in diamonds)
