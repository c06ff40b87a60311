"""The batch part of the run repository's contract (`get_many`, `transition_many`), for every
implementation (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scheduler_domain import RunOutcome, RunQuery, RunStatus, RunTransition, Task, TaskRun, Trigger
from scheduler_errors import NotFound
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0)
FAILED = RunOutcome(status=RunStatus.FAILED, exit_code=1, error_message="boom")


async def queued_runs(stores: Stores, task: Task, count: int) -> list[TaskRun]:
    runs = [await stores.runs.add(a_run(task_id=task.id)) for _ in range(count)]
    queued = [run.queued(T0) for run in runs]
    for run in queued:
        assert await stores.runs.transition(run, expected=RunStatus.PENDING) == run
    return queued


def a_retry_of(run: TaskRun) -> TaskRun:
    return TaskRun(task_id=run.task_id, attempt=run.attempt + 1, trigger=Trigger.RETRY, created_at=T0)


async def test_get_many_returns_the_runs_that_exist_by_id(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    first, second, _ = await queued_runs(stores, task, 3)

    found = await stores.runs.get_many([second.id, first.id, 999, first.id])

    assert found == {first.id: first, second.id: second}
    assert await stores.runs.get_many([]) == {}


async def test_transition_many_applies_each_change_on_its_own_condition(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    first, second, third = await queued_runs(stores, task, 3)
    started = first.started("w-1", T0)
    ended = second.finished(SUCCEEDED, T0, worker_id="w-2")
    stale = third.finished(FAILED, T0, worker_id="w-3")

    stored = await stores.runs.transition_many(
        [
            RunTransition(run=started, expected=RunStatus.QUEUED),
            RunTransition(run=ended, expected=RunStatus.QUEUED),
            RunTransition(run=stale, expected=RunStatus.RUNNING, follow_up=a_retry_of(third)),
        ]
    )

    assert stored == [started, ended, None]
    assert await stores.runs.get_many([first.id, second.id, third.id]) == {
        first.id: started,
        second.id: ended,
        third.id: third,
    }
    assert len(await all_runs(stores, task)) == 3  # no follow-up of the change that did not apply


async def test_a_follow_up_is_stored_only_with_the_change_that_applied(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    applied, refused = await queued_runs(stores, task, 2)
    changes = [
        RunTransition(
            run=applied.finished(FAILED, T0, worker_id="w-1"),
            expected=RunStatus.QUEUED,
            follow_up=a_retry_of(applied),
        ),
        RunTransition(
            run=refused.finished(FAILED, T0, worker_id="w-1"),
            expected=RunStatus.RUNNING,
            follow_up=a_retry_of(refused),
        ),
    ]

    await stores.runs.transition_many(changes)

    follow_ups = [run for run in await all_runs(stores, task) if run.attempt == 2]
    assert [(run.status, run.trigger) for run in follow_ups] == [(RunStatus.PENDING, Trigger.RETRY)]


async def test_transition_many_is_all_or_nothing(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    (run,) = await queued_runs(stores, task, 1)
    orphan = TaskRun(task_id=9_999, attempt=2, trigger=Trigger.RETRY, created_at=T0)

    with pytest.raises(NotFound):
        await stores.runs.transition_many(
            [RunTransition(run=run.started("w-1", T0), expected=RunStatus.QUEUED, follow_up=orphan)]
        )

    assert await stores.runs.get(run.id) == run


async def test_transition_many_takes_a_large_batch_and_an_empty_one(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    runs = await queued_runs(stores, task, 300)
    ended = [run.finished(SUCCEEDED, T0, worker_id="w-1") for run in reversed(runs)]

    stored = await stores.runs.transition_many(
        [RunTransition(run=run, expected=RunStatus.QUEUED) for run in ended]
    )

    assert stored == ended
    assert {run.status for run in (await stores.runs.get_many([r.id for r in runs])).values()} == {
        RunStatus.SUCCEEDED
    }
    assert await stores.runs.transition_many([]) == []


async def all_runs(stores: Stores, task: Task) -> list[TaskRun]:
    page = await stores.runs.page(RunQuery(task_id=task.id, limit=100))
    return sorted(page.items, key=lambda run: run.id)
