"""Applying the status reports workers send through the status queue, many at a time."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from scheduler_application.runs import RunLifecycle
from scheduler_domain import (
    CancelRun,
    Message,
    RunStarted,
    RunStatus,
    RunTransition,
    StatusReport,
    Task,
    TaskRepository,
    TaskRun,
    TaskRunRepository,
    worker_command_key,
)
from scheduler_errors import NotFound, Unavailable
from scheduler_foundation import Clock, MessageQueue

#: Reads and writes a batch may take when its runs keep changing under it (cancels, sweeps).
MAX_ROUNDS = 3
_COMMAND_PRIORITY = 3


class ReportResult(enum.StrEnum):
    """What applying one report did."""

    APPLIED = "applied"
    """The run moved as reported."""
    IGNORED = "ignored"
    """Stale, repeated, or from a worker the run is not on: nothing changed."""
    REFUSED = "refused"
    """A start of a run that must not run: its worker was told to stop it."""


class _RunPlan:
    """What a batch does to one run: the stored run, with its reports folded in one by one."""

    def __init__(self, stored: TaskRun) -> None:
        self.stored = stored
        self.current = stored
        self.follow_up: TaskRun | None = None

    @property
    def changed(self) -> bool:
        return self.current is not self.stored

    def transition(self) -> RunTransition:
        return RunTransition(run=self.current, expected=self.stored.status, follow_up=self.follow_up)

    @property
    def ended_for_good(self) -> bool:
        """True when the run ended and no retry follows: its end decides the runs downstream."""
        return self.current.status.is_final and self.follow_up is None


class _Batch:
    """The reports being applied, what each did, the runs they ended for good, and the tasks
    looked up on the way."""

    def __init__(self, reports: Sequence[StatusReport]) -> None:
        self.reports = reports
        self.results = [ReportResult.IGNORED] * len(reports)
        self.refusals: dict[int, str] = {}
        self.tasks: dict[int, Task | None] = {}
        self.ended: list[TaskRun] = []
        self.has_dependents: dict[int, bool] = {}

    def decide(self, index: int, result: ReportResult, refusal: str | None = None) -> None:
        self.results[index] = result
        if refusal is None:
            self.refusals.pop(index, None)
        else:
            self.refusals[index] = refusal


class StatusReports:
    """Applies workers' status reports in batches: one read and one write of the runs per batch.

    The reports of a batch are read together, grouped by run and folded in order into one
    conditional transition per run (a start and an end that arrive together are one write), and
    written together. Every rule is the run's own, as in `RunLifecycle`: repeats and stale reports
    change nothing, an end may come before its start, a failure is retried by its task's policy,
    and a run that ended for good goes to the dependency rule (`RunLifecycle.dependencies`). A
    run that changed between the read and the write (a cancel, a sweep, another dispatcher) is
    read again and its reports applied anew. A start of a run that must not run (cancelled,
    ended, superseded or running elsewhere) is refused, and its worker told to stop it with a
    `CancelRun` on its command queue.
    """

    def __init__(
        self,
        *,
        runs: TaskRunRepository,
        tasks: TaskRepository,
        lifecycle: RunLifecycle,
        queue: MessageQueue,
        clock: Clock,
    ) -> None:
        self._runs = runs
        self._tasks = tasks
        self._lifecycle = lifecycle
        self._queue = queue
        self._clock = clock

    async def apply_reports(self, reports: Sequence[StatusReport]) -> list[ReportResult]:
        """Apply `reports` in their order; returns what each one did, by index.

        `Unavailable` when the store or the queue does not answer, or the runs keep changing
        under the batch; some reports may then have been applied, and applying them again
        changes nothing.
        """
        batch = _Batch(reports)
        pending = list(range(len(reports)))
        for _ in range(MAX_ROUNDS):
            pending = await self._apply_round(batch, pending)
            if not pending:
                break
        else:
            raise Unavailable(f"{len(pending)} status reports met runs that kept changing; retry them")
        await self._settle_downstream(batch)
        await self._stop_refused(batch)
        return batch.results

    async def _apply_round(self, batch: _Batch, indexes: list[int]) -> list[int]:
        """Read, fold and write the reports at `indexes`; those whose run changed meanwhile."""
        stored = await self._runs.get_many({batch.reports[i].run_id for i in indexes})
        plans: dict[int, _RunPlan] = {}
        for index in indexes:
            report = batch.reports[index]
            run = stored.get(report.run_id)
            if run is None:
                refusal = "the run no longer exists" if isinstance(report, RunStarted) else None
                batch.decide(index, ReportResult.REFUSED if refusal else ReportResult.IGNORED, refusal)
                continue
            plan = plans.setdefault(run.id, _RunPlan(run))
            await self._fold(batch, index, plan)
        changed = [plan for plan in plans.values() if plan.changed]
        if not changed:
            return []
        written = await self._runs.transition_many([plan.transition() for plan in changed])
        lost = {plan.stored.id for plan, run in zip(changed, written, strict=True) if run is None}
        batch.ended += [
            plan.current for plan in changed if plan.ended_for_good and plan.stored.id not in lost
        ]
        return [index for index in indexes if batch.reports[index].run_id in lost]

    async def _fold(self, batch: _Batch, index: int, plan: _RunPlan) -> None:
        report = batch.reports[index]
        run = plan.current
        at = min(report.at, self._clock.now())  # the worker's time, unless its clock runs ahead
        if isinstance(report, RunStarted):
            if run.may_start(report.attempt):
                plan.current = run.started(report.worker_id, at)
                batch.decide(index, ReportResult.APPLIED)
            elif run.taken_by(report.attempt, report.worker_id):
                batch.decide(index, ReportResult.IGNORED)
            else:
                batch.decide(index, ReportResult.REFUSED, _refusal(run, report.attempt))
            return
        if not run.accepts_outcome(report.attempt, report.worker_id):
            batch.decide(index, ReportResult.IGNORED)
            return
        plan.current = run.finished(report.outcome, at, worker_id=report.worker_id)
        task = await self._task(batch, run.task_id) if report.outcome.may_retry else None
        plan.follow_up = None if task is None else self._lifecycle.retry_of(plan.current, task)
        batch.decide(index, ReportResult.APPLIED)

    async def _task(self, batch: _Batch, task_id: int) -> Task | None:
        if task_id not in batch.tasks:
            try:
                batch.tasks[task_id] = await self._tasks.get(task_id)
            except NotFound:
                batch.tasks[task_id] = None
        return batch.tasks[task_id]

    async def _settle_downstream(self, batch: _Batch) -> None:
        """Hand the runs that ended for good to the dependency rule, as `RunLifecycle` does."""
        for run in batch.ended:
            # A run outside any wave whose task nothing depends on decides nothing downstream:
            # one look-up per task spares the rule's own per-run look-ups in a batch of them.
            if run.wave_id is None and not await self._has_dependents(batch, run.task_id):
                continue
            await self._lifecycle.dependencies.run_ended(run)

    async def _has_dependents(self, batch: _Batch, task_id: int) -> bool:
        if task_id not in batch.has_dependents:
            try:
                downstream = await self._tasks.downstream(task_id)
            except NotFound:
                downstream = []
            batch.has_dependents[task_id] = any(task_id in task.dependencies for task in downstream)
        return batch.has_dependents[task_id]

    async def _stop_refused(self, batch: _Batch) -> None:
        told: set[tuple[str, int, int]] = set()
        for index, reason in sorted(batch.refusals.items()):
            report = batch.reports[index]
            if (report.worker_id, report.run_id, report.attempt) in told:
                continue
            told.add((report.worker_id, report.run_id, report.attempt))
            command = CancelRun(run_id=report.run_id, attempt=report.attempt, reason=reason)
            message = Message(payload=command, correlation_id=str(report.run_id))
            await self._queue.publish(
                worker_command_key(report.worker_id), message, priority=_COMMAND_PRIORITY
            )


def _refusal(run: TaskRun, attempt: int) -> str:
    """Why the worker that reported starting `attempt` of `run` must stop it."""
    if run.attempt != attempt:
        return f"attempt {attempt} was superseded by attempt {run.attempt}"
    if run.status is RunStatus.CANCELLED:
        return "cancelled before it started"
    if run.status is RunStatus.RUNNING:
        return f"the run is already running on worker {run.worker_id}"
    if run.status.is_final:
        return f"the run already ended as {run.status}"
    return f"the run is {run.status} again and will be dispatched anew"
