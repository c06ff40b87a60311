"""Recovery against the fakes: lost workers' runs are failed and retried; lost messages are re-sent once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scheduler_application import (
    RunLifecycle,
    SchedulerService,
    TaskControl,
    WorkerRecovery,
    WorkerRegistry,
)
from scheduler_domain import (
    MAX_LIMIT,
    WORKER_LOST,
    RunOutcome,
    RunStatus,
    Task,
    TaskRun,
    Trigger,
    WorkerInfo,
    WorkerStatus,
)
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRunRepository,
    FakeWorkerRepository,
    a_task,
)

S = RunStatus
TIMEOUT = timedelta(seconds=30)
RETENTION = timedelta(hours=1)


@pytest.fixture
def recovery(
    workers: FakeWorkerRepository, runs: FakeTaskRunRepository, lifecycle: RunLifecycle, clock: FakeClock
) -> WorkerRecovery:
    return WorkerRecovery(
        workers=workers,
        runs=runs,
        lifecycle=lifecycle,
        clock=clock,
        worker_timeout=TIMEOUT,
        offline_retention=RETENTION,
    )


async def running_on(
    worker_id: str, task: Task, task_control: TaskControl, runs: FakeTaskRunRepository, clock: FakeClock
) -> TaskRun:
    run = await task_control.trigger(task.id)
    queued = run.queued(clock.now())
    await runs.transition(queued, expected=S.PENDING)
    started = queued.started(worker_id, clock.now())
    assert await runs.transition(started, expected=S.QUEUED) == started
    return started


def attempts_of(runs: FakeTaskRunRepository, task: Task) -> list[TaskRun]:
    return sorted((r for r in runs.rows.values() if r.task_id == task.id), key=lambda r: r.attempt)


class TestLostWorkers:
    async def test_a_silent_workers_running_runs_fail_as_worker_lost_and_are_retried(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        workers: FakeWorkerRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(max_retries=2, retry_backoff_seconds=5))
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        run = await running_on("w-1", task, task_control, runs, clock)
        clock.advance(31)

        ended = await recovery.recover_lost_workers()

        first, retry = attempts_of(runs, task)
        assert [r.id for r in ended] == [run.id] == [first.id]
        assert first.status is S.FAILED
        assert first.error_message is not None
        assert first.error_message.startswith(WORKER_LOST)
        assert "w-1" in first.error_message
        assert (retry.status, retry.attempt, retry.trigger) == (S.PENDING, 2, Trigger.RETRY)
        assert retry.scheduled_for is not None
        assert retry.scheduled_for >= clock.now() + timedelta(seconds=5)
        assert workers.rows["w-1"].status is WorkerStatus.OFFLINE

    async def test_without_retries_left_the_run_just_fails(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(max_retries=0))
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        await running_on("w-1", task, task_control, runs, clock)
        clock.advance(31)

        await recovery.recover_lost_workers()

        assert [r.status for r in attempts_of(runs, task)] == [S.FAILED]

    async def test_workers_that_beat_within_the_timeout_keep_their_runs(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        workers: FakeWorkerRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(max_retries=1))
        await registry.register(WorkerInfo(id="alive", hostname="h"))
        await registry.register(WorkerInfo(id="gone", hostname="h"))
        alive_run = await running_on("alive", task, task_control, runs, clock)
        gone_run = await running_on("gone", task, task_control, runs, clock)
        clock.advance(20)
        await registry.heartbeat("alive", current_task_count=1)
        clock.advance(20)

        ended = await recovery.recover_lost_workers()

        assert [r.id for r in ended] == [gone_run.id]
        assert runs.rows[alive_run.id].status is S.RUNNING
        assert workers.rows["alive"].status is WorkerStatus.ONLINE
        assert workers.rows["gone"].status is WorkerStatus.OFFLINE

    async def test_a_second_sweep_changes_nothing_and_a_late_report_is_ignored(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        lifecycle: RunLifecycle,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(max_retries=1))
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        run = await running_on("w-1", task, task_control, runs, clock)
        clock.advance(31)
        await recovery.recover_lost_workers()
        after_first = dict(runs.rows)

        assert await recovery.recover_lost_workers() == []
        late = await lifecycle.finish(run.id, run.attempt, "w-1", RunOutcome(status=S.SUCCEEDED))

        assert late is None
        assert runs.rows == after_first

    async def test_a_worker_back_after_being_marked_offline_is_online_again(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        workers: FakeWorkerRepository,
        clock: FakeClock,
    ) -> None:
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        clock.advance(31)
        await recovery.recover_lost_workers()

        await registry.heartbeat("w-1", current_task_count=0)

        assert workers.rows["w-1"].status is WorkerStatus.ONLINE

    async def test_more_running_runs_than_one_page_all_end(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task())
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        for _ in range(MAX_LIMIT + 3):
            await running_on("w-1", task, task_control, runs, clock)
        clock.advance(31)

        ended = await recovery.recover_lost_workers()

        assert len(ended) == MAX_LIMIT + 3
        assert {r.status for r in runs.rows.values()} == {S.FAILED}

    async def test_a_run_started_by_a_worker_already_offline_ends_once_it_was_silent_a_whole_timeout(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        # The worker stalls past the timeout and is marked offline, reports one start, then dies
        # before a heartbeat could bring it back online.
        task = await task_control.create(a_task(max_retries=1, retry_backoff_seconds=0))
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        clock.advance(31)
        assert await recovery.recover_lost_workers() == []
        run = await running_on("w-1", task, task_control, runs, clock)

        clock.advance(29)
        too_soon = await recovery.recover_lost_workers()
        clock.advance(2)
        ended = await recovery.recover_lost_workers()

        assert too_soon == []
        assert [(r.id, r.status) for r in ended] == [(run.id, S.FAILED)]
        assert WORKER_LOST in (ended[0].error_message or "")
        assert [r.status for r in attempts_of(runs, task)] == [S.FAILED, S.PENDING]

    async def test_more_runs_started_while_offline_than_one_page_all_end(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task())
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        await registry.register(WorkerInfo(id="w-2", hostname="h"))
        clock.advance(31)
        await recovery.recover_lost_workers()
        await registry.heartbeat("w-2", current_task_count=1)
        kept = await running_on("w-2", task, task_control, runs, clock)
        for _ in range(MAX_LIMIT + 3):
            await running_on("w-1", task, task_control, runs, clock)
        await registry.heartbeat("w-2", current_task_count=1)
        clock.advance(31)
        await registry.heartbeat("w-2", current_task_count=1)

        ended = await recovery.recover_lost_workers()

        assert len(ended) == MAX_LIMIT + 3
        assert {r.worker_id for r in ended} == {"w-1"}
        assert runs.rows[kept.id].status is S.RUNNING

    async def test_a_run_of_a_worker_back_online_is_left_alone(
        self,
        recovery: WorkerRecovery,
        registry: WorkerRegistry,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task())
        await registry.register(WorkerInfo(id="w-1", hostname="h"))
        clock.advance(31)
        await recovery.recover_lost_workers()
        run = await running_on("w-1", task, task_control, runs, clock)
        await registry.heartbeat("w-1", current_task_count=1)

        clock.advance(25)
        await registry.heartbeat("w-1", current_task_count=1)
        clock.advance(25)

        assert await recovery.recover_lost_workers() == []
        assert runs.rows[run.id].status is S.RUNNING

    async def test_a_worker_offline_longer_than_the_retention_is_forgotten(
        self,
        recovery: WorkerRecovery,
        workers: FakeWorkerRepository,
        registry: WorkerRegistry,
        clock: FakeClock,
    ) -> None:
        await registry.register(WorkerInfo(id="w-old", hostname="h"))
        clock.advance(31)
        await recovery.recover_lost_workers()
        await registry.register(WorkerInfo(id="w-new", hostname="h"))
        clock.advance(RETENTION.total_seconds() - 31)
        await recovery.recover_lost_workers()
        kept = {worker.id: worker.status for worker in workers.rows.values()}

        clock.advance(2)
        await recovery.recover_lost_workers()

        # an hour after its last sign of life: w-old is gone; w-new went offline later, and stays
        assert kept == {"w-old": WorkerStatus.OFFLINE, "w-new": WorkerStatus.OFFLINE}
        assert list(workers.rows) == ["w-new"]


class TestLostMessages:
    async def test_a_run_whose_message_is_sent_twice_runs_once(
        self,
        scheduler: SchedulerService,
        lifecycle: RunLifecycle,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task())
        run = await task_control.trigger(task.id)
        await scheduler.dispatch_pending()
        clock.advance(301)  # the message was not lost after all, only slow: both copies arrive
        await scheduler.requeue_stale()
        await scheduler.dispatch_pending()
        deliveries = [m.payload for m in queue.messages("task.shell")]
        assert [(d.run_id, d.attempt) for d in deliveries] == [(run.id, 1), (run.id, 1)]

        claims = [await lifecycle.start(d.run_id, d.attempt, f"w-{n}") for n, d in enumerate(deliveries)]
        ended = await lifecycle.finish(run.id, 1, "w-0", RunOutcome(status=S.SUCCEEDED))
        again = await lifecycle.finish(run.id, 1, "w-1", RunOutcome(status=S.SUCCEEDED))

        assert claims == [True, False]
        assert ended is not None
        assert ended.status is S.SUCCEEDED
        assert again is None
        assert [(r.status, r.worker_id) for r in runs.rows.values()] == [(S.SUCCEEDED, "w-0")]
