"""WorkerRegistry against the fake store: register, heartbeat, deregister."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from scheduler_application import WorkerRegistry
from scheduler_domain import Principal, Role, TaskType, WorkerInfo, WorkerStatus
from scheduler_errors import Conflict, InvalidInput, NotFound, PermissionDenied
from scheduler_testing import FakeClock, FakeWorkerRepository

from .conftest import START


def a_worker(worker_id: str = "w1", **fields: Any) -> WorkerInfo:
    return WorkerInfo(id=worker_id, hostname="box-1", **fields)


async def test_register_records_an_online_worker(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    await registry.register(a_worker(task_types=(TaskType.SHELL, TaskType.HTTP), current_task_count=3))

    stored = workers.rows["w1"]
    assert stored.status is WorkerStatus.ONLINE
    assert (stored.registered_at, stored.last_heartbeat, stored.current_task_count) == (START, START, 0)
    assert stored.task_types == (TaskType.SHELL, TaskType.HTTP)


async def test_registering_again_replaces_the_record(
    registry: WorkerRegistry, workers: FakeWorkerRepository, clock: FakeClock
) -> None:
    await registry.register(a_worker(max_concurrent_tasks=2))
    clock.advance(60)

    await registry.register(a_worker(max_concurrent_tasks=8))

    assert list(workers.rows) == ["w1"]
    assert (workers.rows["w1"].max_concurrent_tasks, workers.rows["w1"].registered_at) == (
        8,
        START + timedelta(seconds=60),
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"task_types": ()}, "task_types"),
        ({"max_concurrent_tasks": 0}, "max_concurrent_tasks"),
        ({"max_concurrent_tasks": 10_001}, "max_concurrent_tasks"),
        ({"port": 65_536}, "port"),
        ({"ip_address": "localhost"}, "ip_address"),
    ],
)
async def test_an_unusable_worker_is_refused(
    registry: WorkerRegistry, workers: FakeWorkerRepository, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        await registry.register(a_worker(**fields))

    assert caught.value.errors[0].field == field
    assert workers.rows == {}


async def test_a_heartbeat_records_life_and_load(
    registry: WorkerRegistry, workers: FakeWorkerRepository, clock: FakeClock
) -> None:
    await registry.register(a_worker())
    later = clock.advance(15)

    await registry.heartbeat("w1", current_task_count=2)

    stored = workers.rows["w1"]
    assert (stored.last_heartbeat, stored.current_task_count, stored.status) == (
        later,
        2,
        WorkerStatus.ONLINE,
    )


async def test_a_heartbeat_can_announce_draining(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    await registry.register(a_worker())

    await registry.heartbeat("w1", current_task_count=1, status=WorkerStatus.DRAINING)
    await registry.heartbeat("w1", current_task_count=0)

    assert workers.rows["w1"].status is WorkerStatus.DRAINING


async def test_a_worker_marked_offline_is_online_again_after_a_heartbeat(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    registered = await registry.register(a_worker())
    await workers.save(registered.offline())

    await registry.heartbeat("w1", current_task_count=0)

    assert workers.rows["w1"].status is WorkerStatus.ONLINE


async def test_a_heartbeat_from_an_unknown_worker_is_not_found(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    with pytest.raises(NotFound):
        await registry.heartbeat("ghost", current_task_count=0)

    assert workers.rows == {}


async def test_deregister_forgets_the_worker(registry: WorkerRegistry, workers: FakeWorkerRepository) -> None:
    await registry.register(a_worker("w1"))
    await registry.register(a_worker("w2"))

    await registry.deregister("w1")

    assert list(workers.rows) == ["w2"]
    assert [w.id for w in await registry.all()] == ["w2"]
    with pytest.raises(NotFound):
        await registry.get("w1")


async def test_deregistering_an_unknown_worker_is_not_found(registry: WorkerRegistry) -> None:
    with pytest.raises(NotFound):
        await registry.deregister("ghost")


WORKER_A = Principal(subject="apikey:1:a", role=Role.WORKER)
WORKER_B = Principal(subject="apikey:2:b", role=Role.WORKER)
OPERATOR = Principal(subject="apikey:3:ops", role=Role.OPERATOR)


async def test_a_worker_key_acts_only_for_its_own_workers_and_operators_for_all(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    await registry.register(a_worker(), by=WORKER_A)

    with pytest.raises(PermissionDenied):
        await registry.heartbeat("w1", current_task_count=1, by=WORKER_B)
    with pytest.raises(PermissionDenied):
        await registry.deregister("w1", by=WORKER_B)
    with pytest.raises(Conflict):
        await registry.register(a_worker(max_concurrent_tasks=9), by=WORKER_B)
    assert workers.rows["w1"].registered_by == "apikey:1:a"
    assert workers.rows["w1"].max_concurrent_tasks == 4

    await registry.heartbeat("w1", current_task_count=1, by=WORKER_A)
    await registry.heartbeat("w1", current_task_count=2, by=OPERATOR)
    await registry.heartbeat("w1", current_task_count=3)  # the scheduler's own process
    assert workers.rows["w1"].current_task_count == 3
    await registry.deregister("w1", by=OPERATOR)
    assert workers.rows == {}


async def test_a_worker_registered_without_a_credential_answers_to_any_worker_key(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    await registry.register(a_worker())  # in-process, or stored before owners were recorded

    await registry.heartbeat("w1", current_task_count=1, by=WORKER_B)

    assert workers.rows["w1"].registered_by is None
    assert workers.rows["w1"].current_task_count == 1


async def test_an_offline_worker_id_goes_to_the_next_key_that_registers_it(
    registry: WorkerRegistry, workers: FakeWorkerRepository
) -> None:
    await registry.register(a_worker(), by=WORKER_A)
    workers.rows["w1"] = workers.rows["w1"].offline()

    await registry.register(a_worker(), by=WORKER_B)

    assert workers.rows["w1"].registered_by == "apikey:2:b"
    with pytest.raises(PermissionDenied):
        await registry.heartbeat("w1", current_task_count=0, by=WORKER_A)
