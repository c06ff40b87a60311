"""The contract of the counts by status (what `/metrics` reports), for every implementation."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler_domain import RunOutcome, RunStatus, Task, TaskRun, TaskStatus
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
NOT_FINAL = (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING)


async def add_runs(stores: Stores, task: Task, count: int) -> list[TaskRun]:
    return [await stores.runs.add(a_run(task_id=task.id)) for _ in range(count)]


async def queue(stores: Stores, run: TaskRun) -> TaskRun:
    queued = run.queued(T0)
    assert await stores.runs.transition(queued, expected=RunStatus.PENDING) == queued
    return queued


async def start(stores: Stores, run: TaskRun) -> TaskRun:
    running = (await queue(stores, run)).started("w-1", T0)
    assert await stores.runs.transition(running, expected=RunStatus.QUEUED) == running
    return running


async def succeed(stores: Stores, run: TaskRun) -> None:
    done = (await start(stores, run)).finished(RunOutcome(status=RunStatus.SUCCEEDED), T0)
    assert await stores.runs.transition(done, expected=RunStatus.RUNNING) == done


async def test_runs_are_counted_in_each_status_asked_for(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    runs = await add_runs(stores, task, 7)
    await queue(stores, runs[0])
    await queue(stores, runs[1])
    await start(stores, runs[2])
    await start(stores, runs[3])
    await start(stores, runs[4])
    await succeed(stores, runs[5])

    counts = await stores.runs.count_by_status(NOT_FINAL)

    assert counts == {RunStatus.PENDING: 1, RunStatus.QUEUED: 2, RunStatus.RUNNING: 3}


async def test_runs_of_every_task_are_counted(stores: Stores) -> None:
    first = await stores.tasks.add(a_task(name="first"))
    second = await stores.tasks.add(a_task(name="second"))
    await add_runs(stores, first, 2)
    await add_runs(stores, second, 3)

    assert await stores.runs.count_by_status([RunStatus.PENDING]) == {RunStatus.PENDING: 5}


async def test_a_final_status_is_counted_only_when_asked_for(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    _, done = await add_runs(stores, task, 2)
    await succeed(stores, done)

    assert await stores.runs.count_by_status([RunStatus.PENDING]) == {RunStatus.PENDING: 1}
    assert await stores.runs.count_by_status([RunStatus.SUCCEEDED, RunStatus.PENDING]) == {
        RunStatus.SUCCEEDED: 1,
        RunStatus.PENDING: 1,
    }


async def test_a_status_without_runs_counts_zero(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    await add_runs(stores, task, 2)

    counts = await stores.runs.count_by_status([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED])

    assert counts == {RunStatus.PENDING: 2, RunStatus.RUNNING: 0, RunStatus.FAILED: 0}


async def test_no_runs_at_all_count_zero_in_every_status_asked_for(stores: Stores) -> None:
    assert await stores.runs.count_by_status(NOT_FINAL) == dict.fromkeys(NOT_FINAL, 0)


async def test_no_status_asked_for_gives_no_counts(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    await add_runs(stores, task, 2)

    assert await stores.runs.count_by_status([]) == {}
    assert await stores.runs.count_by_status(set()) == {}


async def test_tasks_are_counted_in_every_status(stores: Stores) -> None:
    tasks = [await stores.tasks.add(a_task(name=f"job-{n}")) for n in range(6)]
    await stores.tasks.update(tasks[0].paused(T0))
    await stores.tasks.update(tasks[1].paused(T0))
    await stores.tasks.update(tasks[2].archived(T0))

    counts = await stores.tasks.count_by_status()

    assert counts == {TaskStatus.ACTIVE: 3, TaskStatus.PAUSED: 2, TaskStatus.ARCHIVED: 1}


async def test_a_task_status_without_tasks_counts_zero(stores: Stores) -> None:
    assert await stores.tasks.count_by_status() == dict.fromkeys(TaskStatus, 0)

    await stores.tasks.add(a_task())

    assert await stores.tasks.count_by_status() == {
        TaskStatus.ACTIVE: 1,
        TaskStatus.PAUSED: 0,
        TaskStatus.ARCHIVED: 0,
    }
