"""The system overview: counts by status across the store, and the online workers' slots."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler_application import UNFINISHED, SystemOverview
from scheduler_domain import RunStatus, TaskStatus, WorkerInfo, WorkerStatus
from scheduler_testing import FakeTaskRepository, FakeTaskRunRepository, FakeWorkerRepository, a_run, a_task

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


async def test_it_counts_every_status_and_only_the_online_workers_slots() -> None:
    runs = FakeTaskRunRepository()
    tasks = FakeTaskRepository(runs)
    workers = FakeWorkerRepository()
    kept = await tasks.add(a_task(name="kept"))
    paused = await tasks.add(a_task(name="paused"))
    await tasks.update(paused.paused(T0))
    for _ in range(3):
        await runs.add(a_run(task_id=kept.id))
    queued = await runs.add(a_run(task_id=kept.id))
    await runs.transition(queued.queued(T0), expected=RunStatus.PENDING)
    ended = await runs.add(a_run(task_id=kept.id))
    await runs.transition(ended.cancelled(T0), expected=RunStatus.PENDING)
    for worker_id, status, slots, busy in (
        ("a", "online", 4, 3),
        ("b", "online", 8, 1),
        ("c", "draining", 2, 2),
    ):
        await workers.save(
            WorkerInfo(
                id=worker_id,
                hostname="box",
                status=WorkerStatus(status),
                max_concurrent_tasks=slots,
                current_task_count=busy,
            )
        )

    state = await SystemOverview(tasks=tasks, runs=runs, workers=workers).current()

    assert state.runs == {RunStatus.PENDING: 3, RunStatus.QUEUED: 1, RunStatus.RUNNING: 0}
    assert tuple(state.runs) == UNFINISHED
    assert state.tasks == {TaskStatus.ACTIVE: 1, TaskStatus.PAUSED: 1, TaskStatus.ARCHIVED: 0}
    assert state.workers == {
        WorkerStatus.REGISTERING: 0,
        WorkerStatus.ONLINE: 2,
        WorkerStatus.DRAINING: 1,
        WorkerStatus.OFFLINE: 0,
    }
    assert (state.slots, state.busy_slots) == (12, 4)
