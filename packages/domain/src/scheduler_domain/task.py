"""The task: what to run, when, and how to treat failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import Struct

from scheduler_domain.retry import RetryPolicy
from scheduler_domain.schedule import last_fire_before, next_fire_after, normalize_cron, parse_timezone
from scheduler_domain.text import check_storable
from scheduler_domain.values import MisfirePolicy, Priority, TaskStatus, TaskType
from scheduler_errors import Conflict, InvalidInput

MAX_NAME_LENGTH = 200
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600
MAX_RETRIES = 100


class Task(Struct, frozen=True, kw_only=True):
    """A unit of work with an optional cron schedule.

    `id` is 0 until a repository stores the task. Every instance is valid: the invariants are
    checked in `__post_init__`, which also runs when a task is decoded.
    """

    name: str
    command: str
    task_type: TaskType = TaskType.SHELL
    executor: str = ""
    id: int = 0
    description: str = ""
    arguments: dict[str, Any] = msgspec.field(default_factory=dict)
    schedule: str | None = None
    timezone: str = "UTC"
    misfire_policy: MisfirePolicy = MisfirePolicy.RUN_ONCE
    priority: Priority = Priority.NORMAL
    status: TaskStatus = TaskStatus.ACTIVE
    max_retries: int = 0
    retry_backoff_seconds: float = 10.0
    timeout_seconds: int = 3600
    dependencies: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None

    def __post_init__(self) -> None:
        _check_task(self)

    @property
    def executor_name(self) -> str:
        """The executor that runs this task (`executor`, defaulting to the task type)."""
        return self.executor or self.task_type.value

    @property
    def retry_policy(self) -> RetryPolicy:
        """How failed runs of this task are retried."""
        return RetryPolicy(max_retries=self.max_retries, backoff_seconds=self.retry_backoff_seconds)

    def accepts_runs(self) -> bool:
        """True when new runs may be created (not archived)."""
        return self.status is not TaskStatus.ARCHIVED

    def first_fire_after(self, moment: datetime) -> datetime | None:
        """The next cron fire after `moment`, or None for an unscheduled or inactive task."""
        if self.schedule is None or self.status is not TaskStatus.ACTIVE:
            return None
        return next_fire_after(self.schedule, self.timezone, moment)

    def rescheduled(self, now: datetime) -> Task:
        """This task with `next_run_at` recomputed from `now` (after an edit or a resume)."""
        return msgspec.structs.replace(self, next_run_at=self.first_fire_after(now))

    def paused(self, now: datetime) -> Task:
        """This task held: its schedule stops firing until it is resumed."""
        if self.status is TaskStatus.ARCHIVED:
            raise Conflict(f"task {self.id} is archived and cannot be paused")
        return msgspec.structs.replace(self, status=TaskStatus.PAUSED, next_run_at=None, updated_at=now)

    def resumed(self, now: datetime) -> Task:
        """This task active again, its next fire counted from `now` (missed fires are not run)."""
        if self.status is TaskStatus.ARCHIVED:
            raise Conflict(f"task {self.id} is archived and cannot be resumed")
        active = msgspec.structs.replace(self, status=TaskStatus.ACTIVE, updated_at=now)
        return active.rescheduled(now)

    def archived(self, now: datetime) -> Task:
        """This task retired: it never runs again, its history stays."""
        return msgspec.structs.replace(self, status=TaskStatus.ARCHIVED, next_run_at=None, updated_at=now)

    def plan_fires(self, now: datetime, *, misfire_grace: timedelta, limit: int = 100) -> FirePlan:
        """Which fires are due at `now`, and the `next_run_at` that follows them.

        Fires late by at most `misfire_grace` are all kept (a busy dispatcher runs each one).
        Older fires were missed while no dispatcher ran: `run_once` keeps the latest of them,
        `skip` keeps none. A task that is not active has no fire.
        """
        if self.status is not TaskStatus.ACTIVE:
            return FirePlan(fires=(), next_run_at=None)
        fires: list[datetime] = []
        missed: datetime | None = None
        cursor = self.next_run_at
        if cursor is not None and self.schedule is not None and now - cursor > misfire_grace:
            # Step over the missed fires at once: a per-second schedule missed for a week has
            # 600k of them, too many to walk one by one.
            latest = last_fire_before(self.schedule, self.timezone, now - misfire_grace)
            missed = max(cursor, latest or cursor)
            cursor = self.first_fire_after(missed)
        while cursor is not None and cursor <= now and len(fires) < limit:
            if now - cursor <= misfire_grace:
                fires.append(cursor)
            else:
                missed = cursor
            cursor = self.first_fire_after(cursor)
        if missed is not None and self.misfire_policy is MisfirePolicy.RUN_ONCE and not fires:
            fires.append(missed)
        return FirePlan(fires=tuple(fires), next_run_at=cursor)


class FirePlan(Struct, frozen=True, kw_only=True):
    """The due fires of one task and its `next_run_at` after them."""

    fires: tuple[datetime, ...]
    next_run_at: datetime | None


def _check_task(task: Task) -> None:
    if not task.name.strip() or len(task.name) > MAX_NAME_LENGTH:
        raise InvalidInput.for_field("name", f"must be 1 to {MAX_NAME_LENGTH} characters")
    if not task.command.strip():
        raise InvalidInput.for_field("command", "must not be empty")
    for field in ("name", "command", "description", "executor", "tags", "arguments", "metadata"):
        check_storable(field, getattr(task, field))
    if task.schedule is not None:
        normalize_cron(task.schedule)
    parse_timezone(task.timezone)
    if not 0 <= task.max_retries <= MAX_RETRIES:
        raise InvalidInput.for_field("max_retries", f"must be between 0 and {MAX_RETRIES}")
    if task.retry_backoff_seconds < 0:
        raise InvalidInput.for_field("retry_backoff_seconds", "must not be negative")
    if not 1 <= task.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise InvalidInput.for_field("timeout_seconds", f"must be between 1 and {MAX_TIMEOUT_SECONDS}")
    if task.id and task.id in task.dependencies:
        raise InvalidInput.for_field("dependencies", "a task cannot depend on itself")
    if len(set(task.dependencies)) != len(task.dependencies):
        raise InvalidInput.for_field("dependencies", "must not repeat a task id")
