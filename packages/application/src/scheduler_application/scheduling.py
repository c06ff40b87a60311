"""The scheduler service: turns due fires into runs and pending runs into queue messages."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Protocol

from scheduler_application.runs import RunLifecycle
from scheduler_domain import (
    CancelRun,
    FireRecord,
    Message,
    RunDispatch,
    RunStatus,
    Task,
    TaskRepository,
    TaskRun,
    TaskRunRepository,
    Trigger,
    worker_command_key,
)
from scheduler_errors import SchedulerError
from scheduler_foundation import Clock, MessageQueue, NoTracing, Tracer


class SchedulingPolicy:
    """The knobs of one scheduling pass, from the dispatcher settings."""

    def __init__(
        self,
        *,
        batch_size: int = 200,
        misfire_grace: timedelta = timedelta(seconds=60),
        timeout_grace: timedelta = timedelta(seconds=30),
        requeue_after: timedelta = timedelta(seconds=300),
    ) -> None:
        self.batch_size = batch_size
        self.misfire_grace = misfire_grace
        self.timeout_grace = timeout_grace
        self.requeue_after = requeue_after

    @classmethod
    def from_seconds(
        cls, *, batch_size: int, misfire_grace: float, timeout_grace: float, requeue_after: float
    ) -> SchedulingPolicy:
        """A policy from settings given in seconds."""
        return cls(
            batch_size=batch_size,
            misfire_grace=timedelta(seconds=misfire_grace),
            timeout_grace=timedelta(seconds=timeout_grace),
            requeue_after=timedelta(seconds=requeue_after),
        )


class PendingRunClaims(Protocol):
    """A run store that claims pending runs and reads their tasks at once (one round trip).

    Optional: `SchedulerService` is given one where the store offers it (PostgreSQL), and
    otherwise claims with `claim_pending` and reads the tasks with `TaskRepository.get_many`.
    """

    async def claim_pending_with_tasks(
        self, now: datetime, limit: int
    ) -> tuple[list[TaskRun], Mapping[int, Task]]:
        """`claim_pending(now, limit)`, and the tasks of the runs claimed, by id (a deleted task is
        left out)."""
        ...


class SchedulerService:
    """One pass of scheduling work; the dispatcher loop calls these on every tick."""

    def __init__(
        self,
        *,
        tasks: TaskRepository,
        runs: TaskRunRepository,
        queue: MessageQueue,
        lifecycle: RunLifecycle,
        clock: Clock,
        policy: SchedulingPolicy,
        claims: PendingRunClaims | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        """`claims`, when given, claims the pending runs and reads their tasks in one go (see
        `PendingRunClaims`); it must work on the same store as `runs` and `tasks`. Each run is
        published in a `tracer` span continuing its trace, carried on in the message's headers."""
        self._tasks = tasks
        self._runs = runs
        self._queue = queue
        self._lifecycle = lifecycle
        self._clock = clock
        self._policy = policy
        self._claims = claims
        self._tracer = tracer if tracer is not None else NoTracing()

    async def fire_due_schedules(self, *, max_batches: int = 50) -> list[TaskRun]:
        """Create one run per due cron fire (exactly one, however many dispatchers race).

        Due tasks are read and recorded a batch at a time (one transaction per batch) until
        fewer than a full batch is due, or `max_batches` were handled (dispatch goes on then).
        """
        created: list[TaskRun] = []
        for _ in range(max_batches):
            now = self._clock.now()
            due = await self._tasks.due(now, self._policy.batch_size)
            plans = [self._plan(task, now) for task in due]
            created += await self._tasks.record_fire_batch(plans)
            if len(due) < self._policy.batch_size:
                break
        return created

    def _plan(self, task: Task, now: datetime) -> FireRecord:
        plan = task.plan_fires(now, misfire_grace=self._policy.misfire_grace)
        runs = [_scheduled_run(task, fire, now) for fire in plan.fires]
        return FireRecord(task=task, runs=runs, next_run_at=plan.next_run_at)

    async def dispatch_pending(self) -> list[TaskRun]:
        """Publish due pending runs, highest priority first; returns the runs published."""
        published, _ = await self.dispatch_batch()
        return published

    async def dispatch_batch(self) -> tuple[list[TaskRun], bool]:
        """Publish one batch of due pending runs, highest priority first.

        Returns the runs published, and whether the claim came back full (more may be due).
        """
        now = self._clock.now()
        claimed, tasks = await self._claim(now)
        # All at once: the queue shares its round trips among publishes in flight together. A
        # run whose publish fails goes back to pending (see `_publish`), so none stays queued
        # without a message when the queue is down.
        sent = await asyncio.gather(
            *(self._publish(run, tasks.get(run.task_id), now) for run in claimed), return_exceptions=True
        )
        failure = next((outcome for outcome in sent if isinstance(outcome, BaseException)), None)
        if failure is not None:
            raise failure
        published = [run for run, outcome in zip(claimed, sent, strict=True) if outcome is True]
        return published, len(claimed) >= self._policy.batch_size

    async def _claim(self, now: datetime) -> tuple[list[TaskRun], Mapping[int, Task]]:
        if self._claims is not None:
            return await self._claims.claim_pending_with_tasks(now, self._policy.batch_size)
        claimed = await self._runs.claim_pending(now, self._policy.batch_size)
        tasks = await self._tasks.get_many({run.task_id for run in claimed}) if claimed else {}
        return claimed, tasks

    async def end_overdue_runs(self) -> list[TaskRun]:
        """End as `timed_out` the running runs whose worker did not report within the timeout."""
        now = self._clock.now()
        grace = self._policy.timeout_grace.total_seconds()
        ended: list[TaskRun] = []
        for run in await self._runs.overdue(now, grace, self._policy.batch_size):
            stored = await self._lifecycle.time_out(run, f"no report within {run.timeout_seconds}s timeout")
            if stored is not None:
                ended.append(stored)
                await self._stop_on_worker(run)
        return ended

    async def requeue_stale(self) -> list[TaskRun]:
        """Send again the runs queued so long ago that their message was probably lost."""
        now = self._clock.now()
        requeued: list[TaskRun] = []
        for run in await self._runs.stale_queued(now - self._policy.requeue_after, self._policy.batch_size):
            stored = await self._runs.transition(run.requeued(now), expected=RunStatus.QUEUED)
            if stored is not None:
                requeued.append(stored)
        return requeued

    async def _publish(self, run: TaskRun, task: Task | None, now: datetime) -> bool:
        if task is None or not task.accepts_runs():
            cancelled = await self._runs.transition(
                run.cancelled(now, "task archived or deleted"), expected=RunStatus.QUEUED
            )
            if cancelled is not None:
                await self._lifecycle.dependencies.run_ended(cancelled)
            return False
        with self._tracer.dispatching(run) as headers:
            message = Message(payload=_dispatch_of(run, task), correlation_id=str(run.id), headers=headers)
            try:
                await self._queue.publish(task.task_type.routing_key, message, priority=run.priority.rank)
            except SchedulerError:
                await self._runs.transition(run.requeued(now), expected=RunStatus.QUEUED)
                raise
        return True

    async def _stop_on_worker(self, run: TaskRun) -> None:
        if run.worker_id is None:
            return
        command = CancelRun(run_id=run.id, attempt=run.attempt, reason="timed out")
        await self._queue.publish(worker_command_key(run.worker_id), Message(payload=command), priority=3)


def _scheduled_run(task: Task, fire: datetime, now: datetime) -> TaskRun:
    return TaskRun(
        task_id=task.id,
        trigger=Trigger.SCHEDULE,
        task_type=task.task_type,
        priority=task.priority,
        timeout_seconds=task.timeout_seconds,
        scheduled_for=fire,
        created_at=now,
        updated_at=now,
    )


def _dispatch_of(run: TaskRun, task: Task) -> RunDispatch:
    arguments = {**task.arguments, **(run.arguments or {})}
    return RunDispatch(
        run_id=run.id,
        task_id=task.id,
        attempt=run.attempt,
        task_type=task.task_type,
        executor=task.executor_name,
        command=task.command,
        arguments=arguments,
        timeout_seconds=run.timeout_seconds,
    )
