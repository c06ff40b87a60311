"""Task control: create, edit, pause, resume, archive and trigger tasks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

import msgspec

from scheduler_application.audit import PendingAudit
from scheduler_domain import (
    AuditEntry,
    Page,
    Task,
    TaskQuery,
    TaskRepository,
    TaskRun,
    TaskRunRepository,
    TaskStatus,
    Trigger,
    check_dependencies,
    check_idempotency_key,
    check_storable,
    normalize_cron,
)
from scheduler_errors import Conflict, InvalidInput
from scheduler_foundation import Clock, DispatchWakeup, NoTracing, TaskCheck, Tracer

#: Fields a client may change with a partial update.
EDITABLE_FIELDS = frozenset(
    {
        "name",
        "description",
        "task_type",
        "executor",
        "command",
        "arguments",
        "schedule",
        "timezone",
        "misfire_policy",
        "priority",
        "max_retries",
        "retry_backoff_seconds",
        "timeout_seconds",
        "dependencies",
        "tags",
        "metadata",
    }
)


class ManualRunStore(Protocol):
    """A run store that stores a manual run with what it copies from its task in one round trip.

    Optional, like `PendingRunClaims`: `TaskControl` is given one where the store offers it
    (PostgreSQL), and otherwise reads the task, then stores the run.
    """

    async def add_from_task(self, run: TaskRun, audit: AuditEntry | None = None) -> TaskRun | None:
        """Store `run` with the `task_type`, `priority` and `timeout_seconds` of its task as stored
        now (its own are ignored), and `audit` with it, its detail completed with the run's id
        under `run_id`; None, storing nothing, when the task does not exist or does not accept
        runs, or a run holds the idempotency key already."""
        ...


class TaskControl:
    """The use cases of managing tasks."""

    def __init__(
        self,
        *,
        tasks: TaskRepository,
        runs: TaskRunRepository,
        clock: Clock,
        wakeup: DispatchWakeup,
        executors: Mapping[str, TaskCheck | None],
        tracer: Tracer | None = None,
        manual_runs: ManualRunStore | None = None,
    ) -> None:
        """`executors`: the executor names a task may use, each with the check of its command
        and arguments when the executor offers one. A triggered run stores the `traceparent` of
        `tracer`'s current span (the request's), so that its dispatch and execution continue it.
        `manual_runs`, when given, must work on the same store as `tasks` and `runs`."""
        self._tasks = tasks
        self._runs = runs
        self._manual_runs = manual_runs
        self._clock = clock
        self._wakeup = wakeup
        self._executors = executors
        self._tracer = tracer if tracer is not None else NoTracing()

    async def create(self, draft: Task) -> Task:
        """Store a new task, its schedule normalised and its first fire computed."""
        now = self._clock.now()
        task = msgspec.structs.replace(
            draft,
            id=0,
            status=TaskStatus.ACTIVE,
            schedule=_normalized(draft.schedule),
            created_at=now,
            updated_at=now,
            last_run_at=None,
        )
        await self._check_references(task)
        return await self._tasks.add(task.rescheduled(now))

    async def get(self, task_id: int) -> Task:
        """One task."""
        return await self._tasks.get(task_id)

    async def page(self, query: TaskQuery) -> Page[Task]:
        """One page of tasks."""
        return await self._tasks.page(query)

    async def update(self, task_id: int, changes: Mapping[str, Any]) -> Task:
        """Apply a partial update; the schedule's next fire is recomputed."""
        unknown = sorted(set(changes) - EDITABLE_FIELDS)
        if unknown:
            raise InvalidInput.for_field(unknown[0], "cannot be changed")
        current = await self._tasks.get(task_id)
        if current.status is TaskStatus.ARCHIVED:
            raise Conflict(f"task {task_id} is archived and cannot be changed")
        now = self._clock.now()
        fields = dict(changes)
        if "schedule" in fields:
            fields["schedule"] = _normalized(fields["schedule"])
        edited = _edited(current, fields, now)
        await self._check_references(edited)
        if _timing_changed(current, edited):
            edited = edited.rescheduled(now)
        return await self._tasks.update(edited)

    async def pause(self, task_id: int) -> Task:
        """Stop the task's schedule from firing."""
        task = await self._tasks.get(task_id)
        return await self._tasks.update(task.paused(self._clock.now()))

    async def resume(self, task_id: int) -> Task:
        """Let the task's schedule fire again, from now on."""
        task = await self._tasks.get(task_id)
        return await self._tasks.update(task.resumed(self._clock.now()))

    async def archive(self, task_id: int) -> Task:
        """Retire the task; its runs stay in the history."""
        task = await self._tasks.get(task_id)
        return await self._tasks.update(task.archived(self._clock.now()))

    async def trigger(
        self,
        task_id: int,
        *,
        arguments: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        audit: PendingAudit | None = None,
    ) -> TaskRun:
        """Create a run to start now and wake the dispatchers.

        With an `idempotency_key`, triggering the same task twice with that key returns the
        first run instead of creating another. `audit`, the request's entry, is stored with the
        run where the store can (`ManualRunStore`), its detail completed with `run_id`, and then
        marked `recorded`; otherwise it is left for the caller to store.
        """
        check_idempotency_key(idempotency_key)
        check_storable("arguments", arguments)
        now = self._clock.now()
        run = TaskRun(
            task_id=task_id,
            trigger=Trigger.MANUAL,
            arguments=dict(arguments) if arguments is not None else None,
            idempotency_key=idempotency_key,
            scheduled_for=now,
            created_at=now,
            updated_at=now,
            traceparent=self._tracer.traceparent(),
        )
        # Arguments are checked against the task's command, so that path reads the task first; so
        # does every trigger the one-step store declines (it then finds out why).
        stored = None
        if self._manual_runs is not None and not arguments:
            stored = await self._manual_runs.add_from_task(run, audit.entry if audit else None)
            if stored is not None and audit is not None:
                audit.recorded = True
        if stored is None:
            stored = await self._runs.add(await self._copying_task(run))
        self._wakeup.notify()
        return stored

    async def _copying_task(self, run: TaskRun) -> TaskRun:
        """`run` with what it copies from its task, once the task is found to accept it."""
        task = await self._tasks.get(run.task_id)
        if not task.accepts_runs():
            raise Conflict(f"task {task.id} is archived and cannot be triggered")
        if run.arguments:  # merged over the task's, as the dispatcher merges them
            self._check_command(task, {**task.arguments, **run.arguments})
        return msgspec.structs.replace(
            run, task_type=task.task_type, priority=task.priority, timeout_seconds=task.timeout_seconds
        )

    async def _check_references(self, task: Task) -> None:
        if task.executor_name not in self._executors:
            known = ", ".join(sorted(self._executors))
            field = "executor" if task.executor else "task_type"
            raise InvalidInput.for_field(
                field, f"no executor {task.executor_name!r} is available (known: {known})"
            )
        self._check_command(task, task.arguments)
        if task.dependencies:
            check_dependencies(task.id, task.dependencies, graph=await self._tasks.dependency_graph())

    def _check_command(self, task: Task, arguments: Mapping[str, Any]) -> None:
        check = self._executors.get(task.executor_name)
        if check is not None:
            check(task.command, arguments)


def _edited(current: Task, fields: Mapping[str, Any], now: datetime) -> Task:
    """`current` with `fields` changed, every value converted to its field's type and checked."""
    merged = {**msgspec.structs.asdict(current), **fields, "updated_at": now}
    try:
        return msgspec.convert(msgspec.to_builtins(merged), Task)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid task: {exc}") from exc


def _normalized(schedule: str | None) -> str | None:
    if schedule is None or not schedule.strip():
        return None
    return normalize_cron(schedule)


def _timing_changed(before: Task, after: Task) -> bool:
    return (before.schedule, before.timezone) != (after.schedule, after.timezone)
