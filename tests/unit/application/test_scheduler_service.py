"""SchedulerService against the fakes: fires become runs, runs become messages, sweeps recover."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import msgspec
import pytest

from scheduler_application import RunLifecycle, SchedulerService, SchedulingPolicy, TaskControl
from scheduler_domain import (
    CancelRun,
    Message,
    MisfirePolicy,
    Priority,
    RunDispatch,
    RunStatus,
    Task,
    TaskRun,
    TaskStatus,
    TaskType,
    Trigger,
)
from scheduler_errors import Unavailable
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    a_run,
    a_task,
)

from .conftest import START

S = RunStatus
SECOND = timedelta(seconds=1)


def runs_of(runs: FakeTaskRunRepository, task: Task) -> list[TaskRun]:
    return sorted((r for r in runs.rows.values() if r.task_id == task.id), key=lambda r: r.id)


class ClaimsWithTasks:
    """A `PendingRunClaims` over the fakes, counting its calls; it can alter the tasks it reads."""

    def __init__(self, runs: FakeTaskRunRepository, tasks: FakeTaskRepository) -> None:
        self._runs = runs
        self._tasks = tasks
        self.calls = 0
        self.replace_command: str | None = None

    async def claim_pending_with_tasks(
        self, now: datetime, limit: int
    ) -> tuple[list[TaskRun], dict[int, Task]]:
        self.calls += 1
        claimed = await self._runs.claim_pending(now, limit)
        read = await self._tasks.get_many({run.task_id for run in claimed})
        if self.replace_command is not None:
            read = {
                key: msgspec.structs.replace(task, command=self.replace_command) for key, task in read.items()
            }
        return claimed, read


class HeldQueue(FakeMessageQueue):
    """The fake queue, holding every publish until `gate` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def publish(self, routing_key: str, message: Message, *, priority: int = 0) -> None:
        self.waiting += 1
        await self.gate.wait()
        await super().publish(routing_key, message, priority=priority)

    async def in_flight(self, count: int) -> None:
        async with asyncio.timeout(2):
            while self.waiting < count:
                await asyncio.sleep(0)


class TestFireDueSchedules:
    async def test_an_every_second_schedule_makes_one_run_per_fire(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * * *", priority=Priority.HIGH))

        for _ in range(5):
            clock.advance(1)
            created = await scheduler.fire_due_schedules()
            assert len(created) == 1

        made = runs_of(runs, task)
        assert [r.scheduled_for for r in made] == [START + n * SECOND for n in range(1, 6)]
        assert {(r.status, r.trigger, r.priority, r.attempt) for r in made} == {
            (S.PENDING, Trigger.SCHEDULE, Priority.HIGH, 1)
        }

    async def test_firing_twice_at_the_same_time_creates_nothing_more(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        await task_control.create(a_task(schedule="* * * * * *"))
        clock.advance(1)
        await scheduler.fire_due_schedules()

        again = await scheduler.fire_due_schedules()

        assert again == []
        assert len(runs.rows) == 1

    async def test_fires_missed_within_the_grace_each_get_a_run(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * * *"))
        clock.advance(3)

        await scheduler.fire_due_schedules()

        assert [r.scheduled_for for r in runs_of(runs, task)] == [START + n * SECOND for n in (1, 2, 3)]

    async def test_the_task_remembers_its_last_and_next_fire(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        tasks: FakeTaskRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="*/10 * * * * *"))
        clock.advance(25)

        await scheduler.fire_due_schedules()

        stored = tasks.rows[task.id]
        assert stored.last_run_at == START + 20 * SECOND
        assert stored.next_run_at == START + 30 * SECOND

    async def test_after_a_long_outage_run_once_makes_exactly_one_run(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="0 * * * *"))
        now = clock.advance(days=2, minutes=30)

        await scheduler.fire_due_schedules()
        await scheduler.fire_due_schedules()

        [run] = runs_of(runs, task)
        assert run.scheduled_for == now - timedelta(minutes=30)
        next_run_at = tasks.rows[task.id].next_run_at
        assert next_run_at is not None
        assert next_run_at > now

    async def test_after_a_long_outage_skip_makes_no_run(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="0 * * * *", misfire_policy=MisfirePolicy.SKIP))
        now = clock.advance(days=2, minutes=30)

        await scheduler.fire_due_schedules()

        assert runs.rows == {}
        assert tasks.rows[task.id].next_run_at == now + timedelta(minutes=30)

    @pytest.mark.timeout(10)
    async def test_a_per_second_schedule_after_a_month_long_outage(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * * *"))
        now = clock.advance(days=30)

        created = await scheduler.fire_due_schedules()

        assert len(created) == 61  # the fires within the 60 s grace
        assert tasks.rows[task.id].next_run_at == now + SECOND

    async def test_paused_tasks_do_not_fire(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="* * * * *"))
        await task_control.pause(task.id)
        clock.advance(hours=1)

        assert await scheduler.fire_due_schedules() == []
        assert runs.rows == {}

    async def test_a_resumed_task_does_not_run_the_fires_missed_while_paused(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        task = await task_control.create(a_task(schedule="0 * * * *"))
        await task_control.pause(task.id)
        clock.advance(hours=5, minutes=10)
        await task_control.resume(task.id)

        assert await scheduler.fire_due_schedules() == []
        assert runs.rows == {}


async def pending_run(task_control: TaskControl, **task_fields: Any) -> TaskRun:
    task = await task_control.create(a_task(**task_fields))
    return await task_control.trigger(task.id)


class TestDispatchPending:
    async def test_runs_are_published_highest_priority_first_and_become_queued(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
    ) -> None:
        low = await pending_run(task_control, name="low", priority=Priority.LOW)
        critical = await pending_run(task_control, name="critical", priority=Priority.CRITICAL)
        normal = await pending_run(task_control, name="normal", priority=Priority.NORMAL)

        published = await scheduler.dispatch_pending()

        expected_order = [critical.id, normal.id, low.id]
        assert [r.id for r in published] == expected_order
        assert [(key, priority) for key, _, priority in queue.published] == [
            ("task.shell", 3),
            ("task.shell", 1),
            ("task.shell", 0),
        ]
        assert [m.payload.run_id for m in queue.messages("task.shell")] == expected_order
        assert {(r.status, r.queued_at) for r in runs.rows.values()} == {(S.QUEUED, START)}

    async def test_the_dispatch_carries_the_task_and_the_merged_arguments(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        queue: FakeMessageQueue,
    ) -> None:
        task = await task_control.create(
            a_task(
                task_type=TaskType.HTTP,
                command="https://example.com/hook",
                arguments={"method": "POST", "retries": 1},
                timeout_seconds=30,
            )
        )
        run = await task_control.trigger(task.id, arguments={"retries": 5, "body": "x"})

        await scheduler.dispatch_pending()

        [message] = queue.messages("task.http")
        assert message.payload == RunDispatch(
            run_id=run.id,
            task_id=task.id,
            attempt=1,
            task_type=TaskType.HTTP,
            executor="http",
            command="https://example.com/hook",
            arguments={"method": "POST", "retries": 5, "body": "x"},
            timeout_seconds=30,
        )
        assert message.correlation_id == str(run.id)

    async def test_runs_due_later_wait(
        self,
        scheduler: SchedulerService,
        runs: FakeTaskRunRepository,
        tasks: FakeTaskRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        task = await tasks.add(a_task())
        later = await runs.add(a_run(task_id=task.id, scheduled_for=START + timedelta(seconds=30)))

        assert await scheduler.dispatch_pending() == []
        assert runs.rows[later.id].status is S.PENDING

        clock.advance(30)
        assert [r.id for r in await scheduler.dispatch_pending()] == [later.id]
        assert len(queue.published) == 1

    async def test_a_publish_failure_puts_the_runs_back_to_pending(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
    ) -> None:
        for name in ("a", "b", "c"):
            await pending_run(task_control, name=name)
        queue.fail_publish = Unavailable("down")

        with pytest.raises(Unavailable):
            await scheduler.dispatch_pending()

        assert {(r.status, r.queued_at) for r in runs.rows.values()} == {(S.PENDING, None)}
        assert queue.published == []

        queue.fail_publish = None
        assert len(await scheduler.dispatch_pending()) == 3
        assert len(queue.published) == 3

    async def test_the_runs_of_a_batch_are_published_all_at_once(
        self,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        lifecycle: RunLifecycle,
        clock: FakeClock,
        policy: SchedulingPolicy,
        task_control: TaskControl,
    ) -> None:
        queue = HeldQueue()
        scheduler = SchedulerService(
            tasks=tasks, runs=runs, queue=queue, lifecycle=lifecycle, clock=clock, policy=policy
        )
        for name in ("a", "b", "c"):
            await pending_run(task_control, name=name)

        dispatching = asyncio.create_task(scheduler.dispatch_pending())
        await queue.in_flight(3)  # none waited for another: a queue can share their round trips
        queue.gate.set()

        assert len(await dispatching) == 3

    async def test_a_batch_says_whether_its_claim_was_full(
        self,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        lifecycle: RunLifecycle,
        clock: FakeClock,
        task_control: TaskControl,
    ) -> None:
        scheduler = SchedulerService(
            tasks=tasks,
            runs=runs,
            queue=queue,
            lifecycle=lifecycle,
            clock=clock,
            policy=SchedulingPolicy(batch_size=2),
        )
        for name in ("a", "b", "c"):
            await pending_run(task_control, name=name)

        first, more = await scheduler.dispatch_batch()
        rest, more_after = await scheduler.dispatch_batch()

        assert (len(first), more) == (2, True)
        assert (len(rest), more_after) == (1, False)
        assert len(queue.published) == 3

    async def test_a_run_of_an_archived_task_is_cancelled_not_published(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
    ) -> None:
        run = await pending_run(task_control)
        await task_control.archive(run.task_id)

        assert await scheduler.dispatch_pending() == []

        assert runs.rows[run.id].status is S.CANCELLED
        assert queue.published == []

    async def test_a_run_of_a_deleted_task_is_cancelled(
        self,
        scheduler: SchedulerService,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
    ) -> None:
        task = await tasks.add(a_task(name="doomed"))
        run = await runs.add(a_run(task_id=task.id))
        del tasks.rows[task.id]  # stores only archive, but a run must survive its task vanishing

        await scheduler.dispatch_pending()

        assert runs.rows[run.id].status is S.CANCELLED
        assert queue.published == []


class TestDispatchWithAJoinedClaim:
    @pytest.fixture
    def claims(self, runs: FakeTaskRunRepository, tasks: FakeTaskRepository) -> ClaimsWithTasks:
        return ClaimsWithTasks(runs, tasks)

    async def test_the_store_is_asked_once_and_the_tasks_it_read_are_used(
        self,
        scheduler: SchedulerService,
        claims: ClaimsWithTasks,
        task_control: TaskControl,
        queue: FakeMessageQueue,
    ) -> None:
        task = await task_control.create(a_task(command="echo stored"))
        run = await task_control.trigger(task.id)
        claims.replace_command = "echo as claimed"  # what only the claim's own read of the task says

        await scheduler.dispatch_pending()

        [message] = queue.messages("task.shell")
        assert isinstance(message.payload, RunDispatch)
        assert (message.payload.run_id, message.payload.command) == (run.id, "echo as claimed")
        assert claims.calls == 1  # a claim short of a full batch ends the pass


class TestEndOverdueRuns:
    async def running(self, tasks: FakeTaskRepository, runs: FakeTaskRunRepository, retries: int) -> TaskRun:
        task = await tasks.add(a_task(max_retries=retries, timeout_seconds=60))
        return await runs.add(
            a_run(task_id=task.id, status=S.RUNNING, worker_id="w1", started_at=START, timeout_seconds=60)
        )

    async def test_a_run_past_its_timeout_and_grace_is_timed_out_retried_and_stopped(
        self,
        scheduler: SchedulerService,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        run = await self.running(tasks, runs, retries=1)
        clock.advance(60 + 30)

        ended = await scheduler.end_overdue_runs()

        assert [r.id for r in ended] == [run.id]
        assert runs.rows[run.id].status is S.TIMED_OUT
        [retry] = [r for r in runs.rows.values() if r.id != run.id]
        assert (retry.attempt, retry.trigger, retry.status) == (2, Trigger.RETRY, S.PENDING)
        [(key, message, _)] = queue.published
        assert key == "worker.command.w1"
        assert message.payload == CancelRun(run_id=run.id, attempt=1, reason="timed out")

    async def test_within_the_grace_the_run_is_left_alone(
        self,
        scheduler: SchedulerService,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        run = await self.running(tasks, runs, retries=1)
        clock.advance(60 + 29)

        assert await scheduler.end_overdue_runs() == []
        assert runs.rows == {run.id: run}
        assert queue.published == []

    async def test_without_retries_left_no_follow_up_and_a_second_sweep_does_nothing(
        self,
        scheduler: SchedulerService,
        tasks: FakeTaskRepository,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        run = await self.running(tasks, runs, retries=0)
        clock.advance(hours=1)

        await scheduler.end_overdue_runs()
        await scheduler.end_overdue_runs()

        assert list(runs.rows) == [run.id]
        assert runs.rows[run.id].status is S.TIMED_OUT
        assert len(queue.published) == 1


class TestRequeueStale:
    async def test_runs_queued_too_long_go_back_to_pending_and_are_published_again(
        self,
        scheduler: SchedulerService,
        task_control: TaskControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        clock: FakeClock,
    ) -> None:
        lost = await pending_run(task_control, name="lost")
        await scheduler.dispatch_pending()
        clock.advance(200)
        recent = await pending_run(task_control, name="recent")
        await scheduler.dispatch_pending()
        clock.advance(101)

        requeued = await scheduler.requeue_stale()

        assert [r.id for r in requeued] == [lost.id]
        assert (runs.rows[lost.id].status, runs.rows[lost.id].queued_at) == (S.PENDING, None)
        assert runs.rows[recent.id].status is S.QUEUED

        await scheduler.dispatch_pending()
        assert [m.payload.run_id for m in queue.messages("task.shell")] == [
            lost.id,
            recent.id,
            lost.id,
        ]

    async def test_a_run_that_started_meanwhile_is_not_requeued(
        self,
        scheduler: SchedulerService,
        runs: FakeTaskRunRepository,
        clock: FakeClock,
    ) -> None:
        runs.tasks = None  # this case needs no task: keep the fake from checking for one
        run = await runs.add(a_run(status=S.RUNNING, queued_at=START, started_at=START))
        clock.advance(hours=1)

        assert await scheduler.requeue_stale() == []
        assert runs.rows[run.id] == run


async def test_archived_tasks_stay_archived_through_a_full_pass(
    scheduler: SchedulerService,
    task_control: TaskControl,
    tasks: FakeTaskRepository,
    runs: FakeTaskRunRepository,
    clock: FakeClock,
) -> None:
    task = await task_control.create(a_task(schedule="* * * * * *"))
    await task_control.archive(task.id)
    clock.advance(10)

    await scheduler.fire_due_schedules()
    await scheduler.dispatch_pending()

    assert tasks.rows[task.id].status is TaskStatus.ARCHIVED
    assert runs.rows == {}
