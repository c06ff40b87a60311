"""The contract of the run repository, for every implementation (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from scheduler_domain import (
    Priority,
    RunOutcome,
    RunQuery,
    RunStatus,
    Task,
    TaskRun,
    TaskType,
    Trigger,
    decode_cursor,
)
from scheduler_errors import NotFound
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def a_stored_task(stores: Stores, name: str = "job") -> Task:
    return await stores.tasks.add(a_task(name=name))


async def add_runs(stores: Stores, task: Task, count: int, **fields: object) -> list[TaskRun]:
    return [await stores.runs.add(a_run(task_id=task.id, **fields)) for _ in range(count)]


async def a_running_run(stores: Stores, task: Task, *, started: datetime, timeout: int = 60) -> TaskRun:
    run = await stores.runs.add(a_run(task_id=task.id, timeout_seconds=timeout))
    queued = run.queued(started)
    await stores.runs.transition(queued, expected=RunStatus.PENDING)
    running = queued.started("w-1", started)
    assert await stores.runs.transition(running, expected=RunStatus.QUEUED) == running
    return running


# ------------------------------------------------------------------ add, get, round trip


async def test_add_assigns_an_id_and_get_returns_the_run(stores: Stores) -> None:
    task = await a_stored_task(stores)
    first, second = await add_runs(stores, task, 2)

    assert 0 < first.id < second.id
    assert await stores.runs.get(first.id) == first
    with pytest.raises(NotFound):
        await stores.runs.get(999)


async def test_every_run_field_round_trips(stores: Stores) -> None:
    task = await a_stored_task(stores)
    run = TaskRun(
        task_id=task.id,
        attempt=3,
        status=RunStatus.FAILED,
        trigger=Trigger.RETRY,
        task_type=TaskType.HTTP,
        priority=Priority.HIGH,
        timeout_seconds=90,
        arguments={"url": "https://example.test", "headers": {"x": "1"}, "codes": [200, 204]},
        idempotency_key="deploy-42",
        worker_id="worker-7",
        scheduled_for=T0,
        queued_at=T0 + timedelta(seconds=1),
        started_at=T0 + timedelta(seconds=2, microseconds=5),
        completed_at=T0 + timedelta(seconds=30),
        cancel_requested_at=T0 + timedelta(seconds=20),
        result={"status": 500, "body": None},
        error_message="server error",
        exit_code=2,
        retry_count=2,
        created_at=T0 - timedelta(microseconds=1),
        updated_at=T0 + timedelta(seconds=30),
    )

    stored = await stores.runs.add(run)
    loaded = await stores.runs.get(stored.id)

    assert loaded == msgspec.structs.replace(run, id=stored.id)
    assert loaded.started_at is not None
    assert loaded.started_at.utcoffset() == timedelta(0)


async def test_unset_optional_run_fields_stay_unset(stores: Stores) -> None:
    task = await a_stored_task(stores)

    stored = await stores.runs.add(a_run(task_id=task.id))

    loaded = await stores.runs.get(stored.id)
    assert loaded.arguments is None
    assert loaded.result is None
    assert loaded.scheduled_for is None
    assert loaded == stored


async def test_an_idempotency_key_stores_one_run_per_task(stores: Stores) -> None:
    task = await a_stored_task(stores)
    other = await a_stored_task(stores, "other")

    first = await stores.runs.add(a_run(task_id=task.id, idempotency_key="k-1"))
    again = await stores.runs.add(a_run(task_id=task.id, idempotency_key="k-1", priority=Priority.HIGH))
    elsewhere = await stores.runs.add(a_run(task_id=other.id, idempotency_key="k-1"))

    assert again == first
    assert elsewhere.id != first.id
    assert len((await stores.runs.page(RunQuery(task_id=task.id))).items) == 1


async def test_a_run_of_an_unknown_task_is_not_found(
    stores: Stores,
) -> None:

    with pytest.raises(NotFound):
        await stores.runs.add(a_run(task_id=404))


# ------------------------------------------------------------------ listing


async def test_run_pages_walk_newest_first_without_gaps(stores: Stores) -> None:
    task = await a_stored_task(stores)
    other = await a_stored_task(stores, "other")
    for i in range(10):
        await stores.runs.add(a_run(task_id=other.id if i % 3 == 0 else task.id))
    everything = (await stores.runs.page(RunQuery(limit=100))).items
    expected = [run.id for run in everything if run.task_id == task.id]

    seen: list[int] = []
    query = RunQuery(task_id=task.id, limit=2)
    while True:
        page = await stores.runs.page(query)
        seen += [run.id for run in page.items]
        if page.next_cursor is None:
            break
        query = msgspec.structs.replace(query, before_id=decode_cursor(page.next_cursor))

    assert len(expected) == 6
    assert seen == expected == sorted(expected, reverse=True)


async def test_run_filters_combine(stores: Stores) -> None:
    task = await a_stored_task(stores)
    old = await stores.runs.add(a_run(task_id=task.id, created_at=T0 - timedelta(hours=2)))
    new = await stores.runs.add(a_run(task_id=task.id, created_at=T0))
    undated = await stores.runs.add(a_run(task_id=task.id))
    running = await a_running_run(stores, task, started=T0)

    async def ids(query: RunQuery) -> list[int]:
        return [run.id for run in (await stores.runs.page(query)).items]

    assert await ids(RunQuery(since=T0 - timedelta(hours=1))) == [new.id]
    assert await ids(RunQuery(status=RunStatus.PENDING)) == [undated.id, new.id, old.id]
    assert await ids(RunQuery(worker_id="w-1")) == [running.id]
    assert await ids(RunQuery(worker_id="w-2")) == []
    assert await ids(RunQuery(status=RunStatus.RUNNING, task_id=task.id)) == [running.id]


# ------------------------------------------------------------------ conditional transitions


async def test_transition_stores_the_run_when_status_and_attempt_match(stores: Stores) -> None:
    task = await a_stored_task(stores)
    [run] = await add_runs(stores, task, 1)
    queued = run.queued(T0)

    assert await stores.runs.transition(queued, expected=RunStatus.PENDING) == queued
    assert await stores.runs.get(run.id) == queued


async def test_a_stale_transition_changes_nothing(stores: Stores) -> None:
    task = await a_stored_task(stores)
    [run] = await add_runs(stores, task, 1)
    queued = run.queued(T0)
    await stores.runs.transition(queued, expected=RunStatus.PENDING)

    wrong_status = await stores.runs.transition(run.cancelled(T0), expected=RunStatus.PENDING)
    other_attempt = msgspec.structs.replace(queued.started("w-1", T0), attempt=2)
    wrong_attempt = await stores.runs.transition(other_attempt, expected=RunStatus.QUEUED)
    unknown = await stores.runs.transition(msgspec.structs.replace(queued, id=999), expected=RunStatus.QUEUED)

    assert (wrong_status, wrong_attempt, unknown) == (None, None, None)
    assert await stores.runs.get(run.id) == queued


async def test_a_follow_up_is_stored_with_the_transition(stores: Stores) -> None:
    task = await a_stored_task(stores)
    running = await a_running_run(stores, task, started=T0)
    failed = running.finished(RunOutcome(status=RunStatus.FAILED, exit_code=1), T0)
    retry = msgspec.structs.replace(a_run(task_id=task.id), attempt=2, trigger=Trigger.RETRY)

    stored = await stores.runs.transition(failed, expected=RunStatus.RUNNING, follow_up=retry)
    duplicate = await stores.runs.transition(failed, expected=RunStatus.RUNNING, follow_up=retry)

    assert stored == failed
    assert duplicate is None
    runs = (await stores.runs.page(RunQuery(task_id=task.id))).items
    assert [(r.attempt, r.status, r.trigger) for r in runs] == [
        (2, RunStatus.PENDING, Trigger.RETRY),
        (1, RunStatus.FAILED, Trigger.MANUAL),
    ]


async def test_of_racing_identical_transitions_exactly_one_applies(stores: Stores) -> None:
    task = await a_stored_task(stores)
    [run] = await add_runs(stores, task, 1)
    queued = run.queued(T0)

    results = await asyncio.gather(
        *(stores.runs.transition(queued, expected=RunStatus.PENDING) for _ in range(4))
    )

    assert [result for result in results if result is not None] == [queued]
    assert await stores.runs.get(run.id) == queued


# ------------------------------------------------------------------ claiming


async def test_claim_pending_takes_due_runs_by_priority_then_time_then_id(stores: Stores) -> None:
    task = await a_stored_task(stores)

    async def add(priority: Priority, scheduled_for: datetime | None) -> int:
        run = await stores.runs.add(a_run(task_id=task.id, priority=priority, scheduled_for=scheduled_for))
        return run.id

    normal_late = await add(Priority.NORMAL, T0)
    low = await add(Priority.LOW, T0 - timedelta(hours=1))
    normal_early = await add(Priority.NORMAL, T0 - timedelta(minutes=1))
    critical = await add(Priority.CRITICAL, T0)
    normal_unscheduled = await add(Priority.NORMAL, None)
    future = await add(Priority.CRITICAL, T0 + timedelta(seconds=1))

    claimed = await stores.runs.claim_pending(T0, limit=10)

    assert [run.id for run in claimed] == [critical, normal_early, normal_late, normal_unscheduled, low]
    assert all(run.status is RunStatus.QUEUED and run.queued_at == T0 for run in claimed)
    assert [await stores.runs.get(run.id) for run in claimed] == claimed
    assert (await stores.runs.get(future)).status is RunStatus.PENDING


async def test_each_pending_run_is_claimed_once(stores: Stores) -> None:
    task = await a_stored_task(stores)
    runs = await add_runs(stores, task, 7)

    first = await stores.runs.claim_pending(T0, limit=3)
    racing = await asyncio.gather(*(stores.runs.claim_pending(T0, limit=3) for _ in range(3)))
    after = await stores.runs.claim_pending(T0, limit=3)

    claimed = [run.id for batch in (first, *racing) for run in batch]
    assert len(first) == 3
    assert sorted(claimed) == [run.id for run in runs]
    assert after == []


# ------------------------------------------------------------------ sweeps


async def test_overdue_lists_running_runs_past_timeout_and_grace(stores: Stores) -> None:
    task = await a_stored_task(stores)
    on_the_dot = await a_running_run(stores, task, started=T0 - timedelta(seconds=70), timeout=60)
    long_ago = await a_running_run(stores, task, started=T0 - timedelta(hours=1), timeout=60)
    in_grace = await a_running_run(
        stores, task, started=T0 - timedelta(seconds=69, microseconds=1), timeout=60
    )
    [pending] = await add_runs(stores, task, 1)

    overdue = await stores.runs.overdue(T0, grace_seconds=10, limit=10)
    first = await stores.runs.overdue(T0, grace_seconds=10, limit=1)

    assert [run.id for run in overdue] == [on_the_dot.id, long_ago.id]
    assert [run.id for run in first] == [on_the_dot.id]
    assert in_grace.id not in {run.id for run in overdue}
    assert pending.id not in {run.id for run in overdue}


async def test_stale_queued_lists_runs_queued_before_the_cutoff(stores: Stores) -> None:
    task = await a_stored_task(stores)
    runs = await add_runs(stores, task, 3)
    for run, queued_at in zip(runs, (T0 - timedelta(minutes=10), T0, T0 - timedelta(minutes=5)), strict=True):
        await stores.runs.transition(run.queued(queued_at), expected=RunStatus.PENDING)
    await a_running_run(stores, task, started=T0 - timedelta(hours=1))

    stale = await stores.runs.stale_queued(T0, limit=10)
    first = await stores.runs.stale_queued(T0, limit=1)

    assert [run.id for run in stale] == [runs[0].id, runs[2].id]
    assert [run.id for run in first] == [runs[0].id]
