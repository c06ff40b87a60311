"""The contract of dependency waves in storage, for every implementation (see conftest.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from scheduler_domain import RunQuery, RunStatus, Task, TaskRun, Trigger
from scheduler_errors import NotFound
from scheduler_testing import a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def a_diamond(stores: Stores) -> dict[str, Task]:
    """A -> B, A -> C, B and C -> D, and X on its own."""
    made: dict[str, Task] = {}
    for name, upstream in (("a", ""), ("x", ""), ("b", "a"), ("c", "a"), ("d", "bc")):
        dependencies = tuple(made[up].id for up in upstream)
        made[name] = await stores.tasks.add(a_task(name=name, dependencies=dependencies))
    return made


def dependency_run(task: Task, wave_id: int, *, waiting: bool = True) -> TaskRun:
    return TaskRun(
        task_id=task.id,
        trigger=Trigger.DEPENDENCY,
        wave_id=wave_id,
        waiting=waiting,
        scheduled_for=None if waiting else T0,
        created_at=T0,
        updated_at=T0,
    )


async def test_downstream_lists_the_task_and_everything_depending_on_it(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    await stores.tasks.update(tasks["c"].archived(T0))

    def names(found: list[Task]) -> list[str]:
        return [task.name for task in found]

    assert names(await stores.tasks.downstream(tasks["a"].id)) == ["a", "b", "c", "d"]
    assert names(await stores.tasks.downstream(tasks["b"].id)) == ["b", "d"]
    assert names(await stores.tasks.downstream(tasks["x"].id)) == ["x"]
    assert await stores.tasks.downstream(tasks["c"].id) == [tasks["c"].archived(T0), tasks["d"]]
    with pytest.raises(NotFound):
        await stores.tasks.downstream(404)


async def test_the_wave_and_the_wait_round_trip(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))

    stored = await stores.runs.add(dependency_run(tasks["d"], root.id))

    assert await stores.runs.get(stored.id) == stored
    assert (stored.wave_id, stored.waiting, stored.wave) == (root.id, True, root.id)
    assert (await stores.runs.get(root.id)).wave_id is None


async def test_a_task_gets_one_dependency_run_per_wave(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    first_wave = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    second_wave = await stores.runs.add(TaskRun(task_id=tasks["a"].id))

    waiting = await stores.runs.add(dependency_run(tasks["d"], first_wave.id))
    again = await stores.runs.add(dependency_run(tasks["d"], first_wave.id, waiting=False))
    elsewhere = await stores.runs.add(dependency_run(tasks["d"], second_wave.id))
    retry = await stores.runs.add(
        msgspec.structs.replace(waiting, id=0, attempt=2, trigger=Trigger.RETRY, waiting=False)
    )

    assert again == waiting
    assert len({waiting.id, elsewhere.id, retry.id}) == 3
    assert len((await stores.runs.page(RunQuery(task_id=tasks["d"].id))).items) == 3


async def test_racing_creations_of_a_dependency_run_store_one(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))

    created = await asyncio.gather(
        *(stores.runs.add(dependency_run(tasks["d"], root.id, waiting=i % 2 == 0)) for i in range(6))
    )

    assert len({run.id for run in created}) == 1
    assert len((await stores.runs.page(RunQuery(task_id=tasks["d"].id))).items) == 1


async def test_wave_runs_are_the_root_run_and_the_runs_carrying_its_id(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    other_root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    b = await stores.runs.add(dependency_run(tasks["b"], root.id, waiting=False))
    await stores.runs.add(dependency_run(tasks["b"], other_root.id, waiting=False))
    retry = await stores.runs.add(msgspec.structs.replace(b, id=0, attempt=2, trigger=Trigger.RETRY))

    wave = await stores.runs.wave_runs(root.id)

    assert [run.id for run in wave] == [root.id, b.id, retry.id]
    assert wave[0] == root
    assert await stores.runs.wave_runs(404) == []


async def test_settling_stores_only_runs_that_still_wait(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    waiting = await stores.runs.add(dependency_run(tasks["d"], root.id))
    released_already = await stores.runs.add(dependency_run(tasks["b"], root.id, waiting=False))
    released = waiting.released(T0 + timedelta(seconds=1))
    skipped = waiting.skipped(T0 + timedelta(seconds=2), "upstream task 2 (run 3) failed")
    refused = msgspec.structs.replace(released_already, status=RunStatus.SKIPPED, completed_at=T0)

    assert await stores.runs.settle_waiting([released, refused]) == [released]
    assert await stores.runs.settle_waiting([skipped]) == []
    assert await stores.runs.get(waiting.id) == released
    assert await stores.runs.get(released_already.id) == released_already
    assert await stores.runs.settle_waiting([]) == []


async def test_of_racing_settles_of_one_waiting_run_exactly_one_applies(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    waiting = await stores.runs.add(dependency_run(tasks["d"], root.id))
    changes = [waiting.released(T0 + timedelta(seconds=i)) for i in range(4)]

    results = await asyncio.gather(*(stores.runs.settle_waiting([change]) for change in changes))

    assert sorted(len(result) for result in results) == [0, 0, 0, 1]
    [[winner]] = [result for result in results if result]
    assert await stores.runs.get(waiting.id) == winner


async def test_claiming_skips_waiting_runs_until_they_are_released(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id, status=RunStatus.SUCCEEDED))
    waiting = await stores.runs.add(dependency_run(tasks["d"], root.id))
    ready = await stores.runs.add(dependency_run(tasks["b"], root.id, waiting=False))

    first = await stores.runs.claim_pending(T0 + timedelta(hours=1), limit=10)
    await stores.runs.settle_waiting([waiting.released(T0)])
    second = await stores.runs.claim_pending(T0 + timedelta(hours=1), limit=10)

    assert [run.id for run in first] == [ready.id]
    assert [(run.id, run.waiting, run.status) for run in second] == [(waiting.id, False, RunStatus.QUEUED)]


async def test_stale_waiting_lists_waiting_runs_last_changed_before_a_moment(stores: Stores) -> None:
    tasks = await a_diamond(stores)
    root = await stores.runs.add(TaskRun(task_id=tasks["a"].id))
    old = await stores.runs.add(dependency_run(tasks["b"], root.id))
    recent = await stores.runs.add(
        msgspec.structs.replace(dependency_run(tasks["c"], root.id), updated_at=T0 + timedelta(minutes=5))
    )
    await stores.runs.add(dependency_run(tasks["d"], root.id, waiting=False))

    assert [run.id for run in await stores.runs.stale_waiting(T0 + timedelta(minutes=1), 10)] == [old.id]
    later = await stores.runs.stale_waiting(T0 + timedelta(minutes=10), 10)
    assert [run.id for run in later] == [old.id, recent.id]
    assert [run.id for run in await stores.runs.stale_waiting(T0 + timedelta(minutes=10), 1)] == [old.id]
