"""The contract of the task, worker and API-key repositories, for every implementation.

Runs are in test_run_repository_contract.py; both use the `stores` fixture of conftest.py.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from scheduler_domain import (
    ApiKey,
    FireRecord,
    MisfirePolicy,
    Priority,
    Role,
    RunQuery,
    Task,
    TaskQuery,
    TaskRun,
    TaskStatus,
    TaskType,
    Trigger,
    WorkerInfo,
    WorkerStatus,
    decode_cursor,
)
from scheduler_errors import Conflict, NotFound
from scheduler_testing import a_run, a_task
from tests.conformance.contract_stores import Stores

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def a_fire(task: Task, when: datetime) -> TaskRun:
    return a_run(task_id=task.id, trigger=Trigger.SCHEDULE, scheduled_for=when, created_at=T0)


async def all_runs(stores: Stores) -> list[TaskRun]:
    return list((await stores.runs.page(RunQuery(limit=500))).items)


# ------------------------------------------------------------------ tasks: add, get, update


async def test_add_assigns_an_id_and_get_returns_the_task(stores: Stores) -> None:
    first = await stores.tasks.add(a_task(name="first"))
    second = await stores.tasks.add(a_task(name="second"))

    assert first.id > 0
    assert second.id > first.id
    assert await stores.tasks.get(first.id) == first
    assert await stores.tasks.get(second.id) == second


async def test_get_of_an_unknown_task_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.tasks.get(999)


async def test_update_replaces_the_stored_task(stores: Stores) -> None:
    task = await stores.tasks.add(a_task(name="before"))
    edited = msgspec.structs.replace(task, name="after", command="echo edited", tags=("x",))

    assert await stores.tasks.update(edited) == edited
    assert await stores.tasks.get(task.id) == edited


async def test_update_of_an_unknown_task_is_not_found(stores: Stores) -> None:
    with pytest.raises(NotFound):
        await stores.tasks.update(a_task(id=42))


async def test_an_active_name_is_unique(stores: Stores) -> None:
    await stores.tasks.add(a_task(name="backup"))
    other = await stores.tasks.add(a_task(name="other"))

    with pytest.raises(Conflict):
        await stores.tasks.add(a_task(name="backup"))
    with pytest.raises(Conflict):
        await stores.tasks.update(msgspec.structs.replace(other, name="backup"))
    assert (await stores.tasks.get(other.id)).name == "other"


async def test_a_name_is_free_again_once_its_task_is_archived(stores: Stores) -> None:
    old = await stores.tasks.add(a_task(name="backup"))
    await stores.tasks.update(old.archived(T0))

    new = await stores.tasks.add(a_task(name="backup"))
    await stores.tasks.update(new.archived(T0))
    newest = await stores.tasks.add(a_task(name="backup"))

    assert len({old.id, new.id, newest.id}) == 3
    assert (await stores.tasks.get(old.id)).status is TaskStatus.ARCHIVED
    assert (await stores.tasks.get(newest.id)).status is TaskStatus.ACTIVE


async def test_every_task_field_round_trips(stores: Stores) -> None:
    dependency = await stores.tasks.add(a_task(name="upstream"))
    task = Task(
        name="Nightly report",
        command="python -m report",
        task_type=TaskType.PYTHON,
        executor="custom-python",
        description="builds the nightly report",
        arguments={"region": "eu", "retries": [1, 2], "nested": {"on": True, "ratio": 0.5}},
        schedule="0 2 * * *",
        timezone="Europe/Paris",
        misfire_policy=MisfirePolicy.SKIP,
        priority=Priority.CRITICAL,
        status=TaskStatus.PAUSED,
        max_retries=3,
        retry_backoff_seconds=2.5,
        timeout_seconds=120,
        dependencies=(dependency.id,),
        tags=("reports", "nightly"),
        metadata={"owner": "data", "cost": 12},
        created_at=T0,
        updated_at=T0 + timedelta(microseconds=1),
        last_run_at=T0 - timedelta(days=1, microseconds=999_999),
        next_run_at=T0 + timedelta(hours=14, microseconds=123_456),
    )

    stored = await stores.tasks.add(task)
    loaded = await stores.tasks.get(stored.id)

    assert loaded == msgspec.structs.replace(task, id=stored.id)
    for moment in (loaded.created_at, loaded.updated_at, loaded.last_run_at, loaded.next_run_at):
        assert moment is not None
        assert moment.utcoffset() == timedelta(0)


async def test_an_aware_datetime_in_another_zone_keeps_its_instant(stores: Stores) -> None:
    paris = timezone(timedelta(hours=1))
    task = await stores.tasks.add(a_task(next_run_at=datetime(2026, 1, 1, 13, 0, tzinfo=paris)))

    loaded = await stores.tasks.get(task.id)

    assert loaded.next_run_at == T0
    assert loaded.next_run_at is not None
    assert loaded.next_run_at.utcoffset() is not None


# ------------------------------------------------------------------ tasks: listing


async def _walk(stores: Stores, query: TaskQuery) -> tuple[list[int], int]:
    """Every id the listing yields, page by page, and how many pages it took."""
    ids: list[int] = []
    pages = 0
    while True:
        page = await stores.tasks.page(query)
        pages += 1
        ids += [task.id for task in page.items]
        assert len(page.items) <= query.limit
        if page.next_cursor is None:
            return ids, pages
        query = msgspec.structs.replace(query, after_id=decode_cursor(page.next_cursor))


async def test_pages_walk_every_match_once_in_id_order(stores: Stores) -> None:
    tasks = [
        await stores.tasks.add(a_task(name=f"job-{i}", tags=("even",) if i % 2 == 0 else ()))
        for i in range(9)
    ]
    even = [t.id for t in tasks if "even" in t.tags]

    all_ids, all_pages = await _walk(stores, TaskQuery(limit=2))
    even_ids, even_pages = await _walk(stores, TaskQuery(tag="even", limit=2))

    assert all_ids == [t.id for t in tasks]
    assert all_pages == 5
    assert even_ids == even
    assert even_pages == 3


async def test_a_listing_that_fills_its_last_page_exactly_has_no_next_cursor(stores: Stores) -> None:
    for i in range(4):
        await stores.tasks.add(a_task(name=f"job-{i}"))

    first = await stores.tasks.page(TaskQuery(limit=2))
    assert first.next_cursor is not None
    second = await stores.tasks.page(TaskQuery(limit=2, after_id=decode_cursor(first.next_cursor)))

    assert len(second.items) == 2
    assert second.next_cursor is None


async def test_task_filters_combine(stores: Stores) -> None:
    report = await stores.tasks.add(a_task(name="Nightly-Report", task_type=TaskType.HTTP, tags=("prod",)))
    paused = await stores.tasks.add(a_task(name="report-paused", tags=("production",)))
    await stores.tasks.update(paused.paused(T0))
    shell = await stores.tasks.add(a_task(name="cleanup", tags=("prod", "daily")))

    async def ids(query: TaskQuery) -> list[int]:
        return [task.id for task in (await stores.tasks.page(query)).items]

    assert await ids(TaskQuery(name="REPORT")) == [report.id, paused.id]
    assert await ids(TaskQuery(tag="prod")) == [report.id, shell.id]
    assert await ids(TaskQuery(tag="pro")) == []
    assert await ids(TaskQuery(status=TaskStatus.PAUSED)) == [paused.id]
    assert await ids(TaskQuery(task_type=TaskType.HTTP)) == [report.id]
    assert await ids(TaskQuery(name="report", status=TaskStatus.ACTIVE)) == [report.id]
    assert await ids(TaskQuery(tag="prod", task_type=TaskType.SHELL)) == [shell.id]


async def test_a_name_filter_matches_wildcard_characters_literally(stores: Stores) -> None:
    percent = await stores.tasks.add(a_task(name="50% off"))
    underscore = await stores.tasks.add(a_task(name="snake_case"))
    await stores.tasks.add(a_task(name="plain"))

    async def ids(name: str) -> list[int]:
        return [task.id for task in (await stores.tasks.page(TaskQuery(name=name))).items]

    assert await ids("%") == [percent.id]
    assert await ids("_") == [underscore.id]
    assert await ids("e_c") == [underscore.id]
    assert await ids("a%") == []


async def test_dependency_graph_maps_every_task_archived_included(stores: Stores) -> None:
    base = await stores.tasks.add(a_task(name="base"))
    middle = await stores.tasks.add(a_task(name="middle", dependencies=(base.id,)))
    top = await stores.tasks.add(a_task(name="top", dependencies=(base.id, middle.id)))
    await stores.tasks.update(middle.archived(T0))

    graph = await stores.tasks.dependency_graph()

    assert {key: tuple(value) for key, value in graph.items()} == {
        base.id: (),
        middle.id: (base.id,),
        top.id: (base.id, middle.id),
    }


# ------------------------------------------------------------------ tasks: due fires


async def test_due_lists_active_tasks_due_now_earliest_first(stores: Stores) -> None:
    late = await stores.tasks.add(a_task(name="late", schedule="* * * * *", next_run_at=T0))
    early = await stores.tasks.add(
        a_task(name="early", schedule="* * * * *", next_run_at=T0 - timedelta(minutes=5))
    )
    tie = await stores.tasks.add(a_task(name="tie", schedule="* * * * *", next_run_at=T0))
    await stores.tasks.add(a_task(name="future", schedule="* * * * *", next_run_at=T0 + timedelta(seconds=1)))
    await stores.tasks.add(a_task(name="unscheduled"))
    held = await stores.tasks.add(a_task(name="held", schedule="* * * * *", next_run_at=T0))
    await stores.tasks.update(msgspec.structs.replace(held, status=TaskStatus.PAUSED))

    due = await stores.tasks.due(T0, limit=10)
    first_two = await stores.tasks.due(T0, limit=2)

    assert [t.id for t in due] == [early.id, late.id, tie.id]
    assert [t.id for t in first_two] == [early.id, late.id]


async def test_record_fires_creates_the_runs_once_and_advances_the_task(stores: Stores) -> None:
    fires = (T0 - timedelta(minutes=1), T0)
    task = await stores.tasks.add(a_task(schedule="* * * * *", next_run_at=fires[0]))
    following = T0 + timedelta(minutes=1)

    created = await stores.tasks.record_fires(task, [a_fire(task, f) for f in fires], following)
    again = await stores.tasks.record_fires(task, [a_fire(task, f) for f in fires], following)

    assert [run.scheduled_for for run in created] == list(fires)
    assert all(run.id > 0 and run.task_id == task.id for run in created)
    assert again == []
    assert [run.id for run in await all_runs(stores)] == sorted((r.id for r in created), reverse=True)
    stored = await stores.tasks.get(task.id)
    assert stored.next_run_at == following
    assert stored.last_run_at == T0


async def test_get_many_returns_the_tasks_that_exist(stores: Stores) -> None:
    first = await stores.tasks.add(a_task(name="first"))
    second = await stores.tasks.add(a_task(name="second"))

    found = await stores.tasks.get_many([second.id, first.id, 999_999, first.id])

    assert found == {first.id: first, second.id: second}
    assert await stores.tasks.get_many([]) == {}


async def test_a_fire_batch_records_each_plan_that_is_still_current(stores: Stores) -> None:
    fresh = await stores.tasks.add(a_task(name="fresh", schedule="* * * * *", next_run_at=T0))
    stale = await stores.tasks.add(a_task(name="stale", schedule="* * * * *", next_run_at=T0))
    idle = await stores.tasks.add(a_task(name="idle", schedule="* * * * *", next_run_at=T0))
    following = T0 + timedelta(minutes=1)
    await stores.tasks.record_fires(stale, [a_fire(stale, T0)], following)  # another dispatcher won

    created = await stores.tasks.record_fire_batch(
        [
            FireRecord(task=fresh, runs=[a_fire(fresh, T0)], next_run_at=following),
            FireRecord(task=stale, runs=[a_fire(stale, T0)], next_run_at=following),
            FireRecord(task=idle, runs=[], next_run_at=following),
        ]
    )

    assert [(run.task_id, run.scheduled_for) for run in created] == [(fresh.id, T0)]
    assert [(await stores.tasks.get(t.id)).next_run_at for t in (fresh, stale, idle)] == [following] * 3
    assert len([run for run in await all_runs(stores) if run.task_id == stale.id]) == 1
    assert await stores.tasks.record_fire_batch([]) == []


async def test_record_fires_without_runs_only_advances(stores: Stores) -> None:
    task = await stores.tasks.add(
        a_task(schedule="* * * * *", next_run_at=T0, last_run_at=T0 - timedelta(days=1))
    )

    assert await stores.tasks.record_fires(task, [], T0 + timedelta(minutes=1)) == []

    stored = await stores.tasks.get(task.id)
    assert stored.next_run_at == T0 + timedelta(minutes=1)
    assert stored.last_run_at == T0 - timedelta(days=1)
    assert await all_runs(stores) == []


async def test_a_cron_fire_never_gets_a_second_run(
    stores: Stores,
) -> None:
    task = await stores.tasks.add(a_task(schedule="* * * * *", next_run_at=T0))
    [first] = await stores.tasks.record_fires(task, [a_fire(task, T0)], T0 + timedelta(minutes=1))
    # The fire comes due again (a clock set back, an edit): its run must not be created twice.
    rewound = await stores.tasks.update(
        msgspec.structs.replace(await stores.tasks.get(task.id), next_run_at=T0)
    )

    again = await stores.tasks.record_fires(rewound, [a_fire(task, T0)], T0 + timedelta(minutes=1))
    added = await stores.runs.add(a_fire(task, T0))

    assert again == []
    assert added.id == first.id
    assert [run.id for run in await all_runs(stores)] == [first.id]
    assert (await stores.tasks.get(task.id)).next_run_at == T0 + timedelta(minutes=1)


async def test_of_dispatchers_racing_over_one_fire_exactly_one_records_it(stores: Stores) -> None:
    task = await stores.tasks.add(a_task(schedule="* * * * *", next_run_at=T0))

    results = await asyncio.gather(
        *(stores.tasks.record_fires(task, [a_fire(task, T0)], T0 + timedelta(minutes=1)) for _ in range(4))
    )

    winners = [created for created in results if created]
    assert len(winners) == 1
    assert [run.id for run in await all_runs(stores)] == [winners[0][0].id]


# ------------------------------------------------------------------ workers


def a_worker(worker_id: str, **changes: object) -> WorkerInfo:
    worker = WorkerInfo(id=worker_id, hostname=f"{worker_id}.local")
    return msgspec.structs.replace(worker, **changes)


async def test_workers_are_saved_listed_by_id_and_removed(stores: Stores) -> None:
    for worker_id in ("w-2", "w-1", "w-3"):
        await stores.workers.save(a_worker(worker_id))
    updated = a_worker("w-1", status=WorkerStatus.ONLINE, current_task_count=2, registered_by="apikey:7:w")

    assert await stores.workers.save(updated) == updated
    assert await stores.workers.get("w-1") == updated
    assert [w.id for w in await stores.workers.all()] == ["w-1", "w-2", "w-3"]

    await stores.workers.remove("w-2")
    assert [w.id for w in await stores.workers.all()] == ["w-1", "w-3"]
    with pytest.raises(NotFound):
        await stores.workers.get("w-2")
    with pytest.raises(NotFound):
        await stores.workers.remove("w-2")


async def test_a_registration_takes_an_id_unless_another_registrant_holds_it(stores: Stores) -> None:
    mine = a_worker("w-1", status=WorkerStatus.ONLINE, registered_by="apikey:1:a")
    theirs = a_worker("w-1", status=WorkerStatus.ONLINE, registered_by="apikey:2:b", port=9)

    assert await stores.workers.register(mine)
    assert await stores.workers.register(msgspec.structs.replace(mine, current_task_count=1))
    assert not await stores.workers.register(theirs)
    assert await stores.workers.get("w-1") == msgspec.structs.replace(mine, current_task_count=1)

    await stores.workers.save(msgspec.structs.replace(mine, status=WorkerStatus.OFFLINE))
    assert await stores.workers.register(theirs)  # an offline worker's id is free
    await stores.workers.save(msgspec.structs.replace(theirs, registered_by=None))
    assert await stores.workers.register(mine)  # so is one no worker key registered
    assert await stores.workers.get("w-1") == mine


async def test_workers_are_listed_in_code_point_order_of_their_ids(stores: Stores) -> None:
    ids = ["b", "B", "a_1", "a-1", "a1", "Z", "é"]
    for worker_id in ids:
        await stores.workers.save(a_worker(worker_id))

    assert [w.id for w in await stores.workers.all()] == sorted(ids)


async def test_every_worker_field_round_trips(stores: Stores) -> None:
    worker = WorkerInfo(
        id="worker-a",
        hostname="host-a",
        ip_address="10.0.0.7",
        port=9100,
        task_types=(TaskType.SHELL, TaskType.HTTP, TaskType.CUSTOM),
        max_concurrent_tasks=16,
        current_task_count=3,
        status=WorkerStatus.DRAINING,
        last_heartbeat=T0 + timedelta(microseconds=7),
        registered_at=T0 - timedelta(hours=1),
        metadata={"zone": "b", "gpu": False, "labels": ["x", "y"]},
    )

    await stores.workers.save(worker)
    loaded = await stores.workers.get("worker-a")

    assert loaded == worker
    assert loaded.last_heartbeat is not None
    assert loaded.last_heartbeat.utcoffset() == timedelta(0)


# ------------------------------------------------------------------ API keys


def a_key(name: str, **changes: object) -> ApiKey:
    key = ApiKey(name=name, role=Role.OPERATOR, key_hash=f"hash-of-{name}", created_at=T0)
    return msgspec.structs.replace(key, **changes)


async def test_api_keys_are_found_by_hash_listed_and_counted(stores: Stores) -> None:
    first = await stores.api_keys.add(a_key("ci"))
    second = await stores.api_keys.add(a_key("admin", role=Role.ADMIN))

    assert first.id > 0
    assert second.id > first.id
    assert await stores.api_keys.find_by_hash("hash-of-admin") == second
    assert await stores.api_keys.find_by_hash("hash-of-nobody") is None
    assert await stores.api_keys.all() == [first, second]
    assert await stores.api_keys.count() == 2


async def test_a_key_hash_is_stored_once(stores: Stores) -> None:
    await stores.api_keys.add(a_key("ci"))

    with pytest.raises(Conflict):
        await stores.api_keys.add(a_key("copy", key_hash="hash-of-ci"))
    assert await stores.api_keys.count() == 1


async def test_a_revoked_key_stays_findable_and_counted(stores: Stores) -> None:
    key = await stores.api_keys.add(a_key("ci"))

    await stores.api_keys.revoke(key.id, T0 + timedelta(hours=1))

    found = await stores.api_keys.find_by_hash("hash-of-ci")
    assert found is not None
    assert found.revoked_at == T0 + timedelta(hours=1)
    assert not found.usable_at(T0 + timedelta(hours=2))
    assert await stores.api_keys.count() == 1
    with pytest.raises(NotFound):
        await stores.api_keys.revoke(999, T0)


async def test_a_key_revoked_again_keeps_the_time_it_was_first_revoked(stores: Stores) -> None:
    key = await stores.api_keys.add(a_key("ci"))
    await stores.api_keys.revoke(key.id, T0 + timedelta(hours=1))

    await stores.api_keys.revoke(key.id, T0 + timedelta(hours=5))

    found = await stores.api_keys.find_by_hash("hash-of-ci")
    assert found is not None
    assert found.revoked_at == T0 + timedelta(hours=1)


async def test_every_api_key_field_round_trips(stores: Stores) -> None:
    key = ApiKey(
        name="deploy",
        role=Role.WORKER,
        key_hash="f" * 64,
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
        revoked_at=T0 + timedelta(days=1, microseconds=1),
        last_used_at=T0 + timedelta(seconds=5),
    )

    stored = await stores.api_keys.add(key)

    assert await stores.api_keys.find_by_hash(key.key_hash) == msgspec.structs.replace(key, id=stored.id)
