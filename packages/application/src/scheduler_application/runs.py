"""The run lifecycle: reading runs, cancelling them, and applying what workers report."""

from __future__ import annotations

import random

from scheduler_application.dependencies import DependencyRelease
from scheduler_domain import (
    WORKER_LOST,
    CancelRun,
    Message,
    Page,
    RunOutcome,
    RunQuery,
    RunStatus,
    Task,
    TaskRepository,
    TaskRun,
    TaskRunRepository,
    worker_command_key,
)
from scheduler_errors import Conflict, NotFound
from scheduler_foundation import Clock, MessageQueue


class RunControl:
    """The use cases of following and stopping runs.

    With `dependencies`, cancelling a run that has not started settles the runs downstream of it.
    """

    def __init__(
        self,
        *,
        runs: TaskRunRepository,
        queue: MessageQueue,
        clock: Clock,
        dependencies: DependencyRelease | None = None,
    ) -> None:
        self._runs = runs
        self._queue = queue
        self._clock = clock
        self._dependencies = dependencies

    async def get(self, run_id: int) -> TaskRun:
        """One run."""
        return await self._runs.get(run_id)

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """One page of runs, newest first."""
        return await self._runs.page(query)

    async def cancel(self, run_id: int, reason: str = "cancelled by request") -> TaskRun:
        """Stop a run: at once if it has not started, through its worker if it is running.

        `Conflict` when the run has already ended.
        """
        run = await self._runs.get(run_id)
        if run.status.is_final:
            raise Conflict(f"run {run_id} already ended as {run.status}")
        now = self._clock.now()
        if run.status is RunStatus.RUNNING:
            stored = await self._runs.transition(run.cancel_requested(now), expected=RunStatus.RUNNING)
            if stored is None:
                return await self.cancel(run_id, reason)
            await self._ask_worker_to_stop(stored, reason)
            return stored
        stored = await self._runs.transition(run.cancelled(now, reason), expected=run.status)
        if stored is None:
            return await self.cancel(run_id, reason)
        if self._dependencies is not None:
            await self._dependencies.run_ended(stored)
        return stored

    async def _ask_worker_to_stop(self, run: TaskRun, reason: str) -> None:
        if run.worker_id is None:
            return
        command = Message(payload=CancelRun(run_id=run.id, attempt=run.attempt, reason=reason))
        await self._queue.publish(worker_command_key(run.worker_id), command, priority=3)


class RunLifecycle:
    """Applies what workers and sweeps report; each change is conditional, so repeats are no-ops.

    A run that ends for good (no retry follows) is handed to `dependencies`, which creates,
    releases or skips the runs downstream of it.
    """

    def __init__(
        self,
        *,
        runs: TaskRunRepository,
        tasks: TaskRepository,
        clock: Clock,
        rng: random.Random | None = None,
        dependencies: DependencyRelease | None = None,
    ) -> None:
        self._runs = runs
        self._tasks = tasks
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self.dependencies = dependencies or DependencyRelease(runs=runs, tasks=tasks, clock=clock)

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Mark the run as running on `worker_id`; False when it must not run."""
        run = await self._find(run_id)
        if run is None or not run.may_start(attempt):
            return False
        started = run.started(worker_id, self._clock.now())
        return await self._runs.transition(started, expected=RunStatus.QUEUED) is not None

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> TaskRun | None:
        """Record how a run ended and schedule its retry when the policy allows one.

        Returns the stored run, or None when the report was stale or a duplicate, or came from a
        worker other than the one running the run.
        """
        run = await self._find(run_id)
        if run is None or not run.accepts_outcome(attempt, worker_id):
            return None
        ended = run.finished(outcome, self._clock.now(), worker_id=worker_id)
        return await self._store_end(run, ended, retry=outcome.may_retry)

    async def time_out(self, run: TaskRun, reason: str) -> TaskRun | None:
        """End a run whose worker did not report it within its timeout."""
        now = self._clock.now()
        outcome = RunOutcome(status=RunStatus.TIMED_OUT, error_message=reason)
        return await self._store_end(run, run.finished(outcome, now), retry=True)

    async def worker_lost(self, run: TaskRun) -> TaskRun | None:
        """End a running run whose worker stopped heartbeating: `failed` (`worker_lost`), then retried."""
        reason = f"{WORKER_LOST}: worker {run.worker_id} stopped sending heartbeats"
        outcome = RunOutcome(status=RunStatus.FAILED, error_message=reason)
        return await self._store_end(run, run.finished(outcome, self._clock.now()), retry=True)

    async def _store_end(self, before: TaskRun, ended: TaskRun, *, retry: bool) -> TaskRun | None:
        follow_up = await self._retry_of(ended) if retry else None
        stored = await self._runs.transition(ended, expected=before.status, follow_up=follow_up)
        if stored is not None and follow_up is None:
            await self.dependencies.run_ended(stored)
        return stored

    async def _retry_of(self, ended: TaskRun) -> TaskRun | None:
        try:
            task = await self._tasks.get(ended.task_id)
        except NotFound:
            return None
        return self.retry_of(ended, task)

    def retry_of(self, ended: TaskRun, task: Task) -> TaskRun | None:
        """The next attempt after `ended`, a run of `task`, when the task's retry policy allows one."""
        if not task.accepts_runs():
            return None
        policy = task.retry_policy
        delay = policy.delay_after(ended.attempt, self._rng)
        return ended.next_attempt(policy, self._clock.now(), delay)

    async def _find(self, run_id: int) -> TaskRun | None:
        try:
            return await self._runs.get(run_id)
        except NotFound:
            return None
