"""Run metrics counted where runs change: a run repository that records what it stored.

Every change of a run's status goes through the run repository's conditional writes, so wrapping
the repository counts each dispatch, end and retry once, in the process that stored it, whichever
use case caused it (a worker's report, a timeout, a lost worker, a cancel, a skipped dependency).
A write whose condition failed stored nothing and counts nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol, cast

from scheduler_domain import (
    AuditEntry,
    Page,
    RunQuery,
    RunStatus,
    RunTransition,
    Task,
    TaskRun,
    TaskRunRepository,
)
from scheduler_observability.metrics import Metrics


class _ClaimsWithTasks(Protocol):
    async def claim_pending_with_tasks(
        self, now: datetime, limit: int
    ) -> tuple[list[TaskRun], dict[int, Task]]: ...


class _ManualRunStore(Protocol):
    async def add_from_task(self, run: TaskRun, audit: AuditEntry | None = None) -> TaskRun | None: ...


class MeteredRunRepository:
    """A `TaskRunRepository` that counts in `metrics` the dispatches, ends and retries it stores."""

    def __init__(self, runs: TaskRunRepository, metrics: Metrics) -> None:
        self._runs = runs
        self._metrics = metrics

    async def add(self, run: TaskRun) -> TaskRun:
        """See `TaskRunRepository.add`."""
        return await self._runs.add(run)

    async def add_from_task(self, run: TaskRun, audit: AuditEntry | None = None) -> TaskRun | None:
        """The wrapped store's one-step manual run (PostgreSQL's: see `ManualRunStore`)."""
        return await cast("_ManualRunStore", self._runs).add_from_task(run, audit)

    async def get(self, run_id: int) -> TaskRun:
        """See `TaskRunRepository.get`."""
        return await self._runs.get(run_id)

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        """See `TaskRunRepository.get_many`."""
        return await self._runs.get_many(run_ids)

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """See `TaskRunRepository.page`."""
        return await self._runs.page(query)

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        """See `TaskRunRepository.count_by_status`."""
        return await self._runs.count_by_status(statuses)

    async def transition(
        self, run: TaskRun, *, expected: RunStatus, follow_up: TaskRun | None = None
    ) -> TaskRun | None:
        """See `TaskRunRepository.transition`; counts the change when it was stored."""
        stored = await self._runs.transition(run, expected=expected, follow_up=follow_up)
        if stored is not None:
            self._count_change(stored, expected, follow_up)
        return stored

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        """See `TaskRunRepository.transition_many`; counts each change that was stored."""
        results = await self._runs.transition_many(changes)
        for change, stored in zip(changes, results, strict=True):
            if stored is not None:
                self._count_change(stored, change.expected, change.follow_up)
        return results

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        """See `TaskRunRepository.wave_runs`."""
        return await self._runs.wave_runs(wave_id)

    async def stale_waiting(self, before: datetime, limit: int) -> list[TaskRun]:
        """See `TaskRunRepository.stale_waiting`."""
        return await self._runs.stale_waiting(before, limit)

    async def settle_waiting(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """See `TaskRunRepository.settle_waiting`; counts the runs it skipped as ended."""
        settled = await self._runs.settle_waiting(runs)
        self._count_ends(run for run in settled if run.status.is_final)
        return settled

    async def claim_pending(self, now: datetime, limit: int) -> list[TaskRun]:
        """See `TaskRunRepository.claim_pending`; counts the runs claimed."""
        claimed = await self._runs.claim_pending(now, limit)
        self._count_dispatches(claimed)
        return claimed

    async def claim_pending_with_tasks(
        self, now: datetime, limit: int
    ) -> tuple[list[TaskRun], dict[int, Task]]:
        """The wrapped store's joined claim (PostgreSQL's); counts the runs claimed."""
        claimed, tasks = await cast("_ClaimsWithTasks", self._runs).claim_pending_with_tasks(now, limit)
        self._count_dispatches(claimed)
        return claimed, tasks

    async def overdue(self, now: datetime, grace_seconds: float, limit: int) -> list[TaskRun]:
        """See `TaskRunRepository.overdue`."""
        return await self._runs.overdue(now, grace_seconds, limit)

    async def stale_queued(self, before: datetime, limit: int) -> list[TaskRun]:
        """See `TaskRunRepository.stale_queued`."""
        return await self._runs.stale_queued(before, limit)

    def _count_change(self, stored: TaskRun, expected: RunStatus, follow_up: TaskRun | None) -> None:
        if stored.status.is_final and not expected.is_final:
            self._count_ends((stored,))
        if follow_up is not None:
            self._metrics.runs_retried.labels(follow_up.task_type.value).inc()

    def _count_ends(self, runs: Iterable[TaskRun]) -> None:
        for run in runs:
            task_type, status = run.task_type.value, run.status.value
            self._metrics.runs_ended.labels(task_type, status).inc()
            if run.started_at is not None and run.completed_at is not None:
                seconds = (run.completed_at - run.started_at).total_seconds()
                self._metrics.run_duration.labels(task_type, status).observe(max(seconds, 0.0))

    def _count_dispatches(self, claimed: Sequence[TaskRun]) -> None:
        for run in claimed:
            self._metrics.runs_dispatched.labels(run.task_type.value).inc()
