"""The trace context a run keeps (`TaskRun.traceparent`) through every write, for every
implementation (see conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler_domain import RetryPolicy, RunOutcome, RunQuery, RunStatus, RunTransition, TaskRun, Trigger
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0)
FAILED = RunOutcome(status=RunStatus.FAILED, exit_code=1, error_message="boom")


async def traced_runs(stores: Stores, count: int = 1) -> list[TaskRun]:
    task = await stores.tasks.add(a_task())
    return [await stores.runs.add(a_run(task_id=task.id, traceparent=TRACEPARENT)) for _ in range(count)]


async def test_a_run_reads_back_with_its_traceparent(stores: Stores) -> None:
    [run] = await traced_runs(stores)

    assert run.traceparent == TRACEPARENT
    assert await stores.runs.get(run.id) == run


async def test_a_run_without_a_traceparent_reads_back_none(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())

    run = await stores.runs.add(a_run(task_id=task.id))

    assert (await stores.runs.get(run.id)).traceparent is None
    [claimed] = await stores.runs.claim_pending(T0, limit=10)
    assert claimed.traceparent is None


async def test_the_traceparent_survives_each_transition(stores: Stores) -> None:
    [run] = await traced_runs(stores)
    queued = run.queued(T0)
    running = queued.started("w-1", T0 + timedelta(seconds=1))
    succeeded = running.finished(SUCCEEDED, T0 + timedelta(seconds=2))

    for moved, expected in (
        (queued, RunStatus.PENDING),
        (running, RunStatus.QUEUED),
        (succeeded, RunStatus.RUNNING),
    ):
        assert await stores.runs.transition(moved, expected=expected) == moved
        assert (await stores.runs.get(run.id)).traceparent == TRACEPARENT


async def test_the_traceparent_survives_a_batch_of_transitions(stores: Stores) -> None:
    runs = await traced_runs(stores, 3)
    queued = [run.queued(T0) for run in runs]

    stored = await stores.runs.transition_many(
        [RunTransition(run=run, expected=RunStatus.PENDING) for run in queued]
    )

    assert stored == queued
    found = await stores.runs.get_many([run.id for run in runs])
    assert [found[run.id].traceparent for run in runs] == [TRACEPARENT] * 3


async def test_a_claim_keeps_the_traceparent(stores: Stores) -> None:
    first, second = await traced_runs(stores, 2)

    [claimed] = await stores.runs.claim_pending(T0, limit=1)

    assert (claimed.id, claimed.status, claimed.traceparent) == (first.id, RunStatus.QUEUED, TRACEPARENT)
    assert (await stores.runs.get(first.id)).traceparent == TRACEPARENT
    # PostgreSQL also claims runs together with their tasks, in one statement of its own.
    if hasattr(stores.runs, "claim_pending_with_tasks"):
        [with_task], tasks = await stores.runs.claim_pending_with_tasks(T0, 10)
        assert (with_task.id, with_task.traceparent) == (second.id, TRACEPARENT)
        assert list(tasks) == [second.task_id]
        assert (await stores.runs.get(second.id)).traceparent == TRACEPARENT


async def test_the_retry_of_a_traced_run_keeps_its_traceparent(stores: Stores) -> None:
    [run] = await traced_runs(stores)
    queued = run.queued(T0)
    running = queued.started("w-1", T0)
    assert await stores.runs.transition(queued, expected=RunStatus.PENDING) == queued
    assert await stores.runs.transition(running, expected=RunStatus.QUEUED) == running
    failed = running.finished(FAILED, T0 + timedelta(seconds=1))
    retry = failed.next_attempt(RetryPolicy(max_retries=1), T0 + timedelta(seconds=1), 0)
    assert retry is not None

    assert await stores.runs.transition(failed, expected=RunStatus.RUNNING, follow_up=retry) == failed

    attempts = (await stores.runs.page(RunQuery(task_id=run.task_id))).items
    assert [(r.attempt, r.trigger, r.traceparent) for r in attempts] == [
        (2, Trigger.RETRY, TRACEPARENT),
        (1, Trigger.MANUAL, TRACEPARENT),
    ]


async def test_the_retry_from_a_batch_keeps_its_traceparent(stores: Stores) -> None:
    [run] = await traced_runs(stores)
    queued = run.queued(T0)
    assert await stores.runs.transition(queued, expected=RunStatus.PENDING) == queued
    failed = queued.finished(FAILED, T0, worker_id="w-1")
    retry = failed.next_attempt(RetryPolicy(max_retries=1), T0, 0)

    stored = await stores.runs.transition_many(
        [RunTransition(run=failed, expected=RunStatus.QUEUED, follow_up=retry)]
    )

    assert stored == [failed]
    attempts = (await stores.runs.page(RunQuery(task_id=run.task_id))).items
    assert [(r.attempt, r.traceparent) for r in attempts] == [(2, TRACEPARENT), (1, TRACEPARENT)]


async def test_settling_a_waiting_run_keeps_its_traceparent(stores: Stores) -> None:
    task = await stores.tasks.add(a_task())
    root = await stores.runs.add(TaskRun(task_id=task.id))
    waiting = await stores.runs.add(
        TaskRun(
            task_id=task.id,
            trigger=Trigger.DEPENDENCY,
            wave_id=root.id,
            waiting=True,
            traceparent=TRACEPARENT,
        )
    )
    released = waiting.released(T0)

    assert await stores.runs.settle_waiting([released]) == [released]
    assert (await stores.runs.get(waiting.id)).traceparent == TRACEPARENT
