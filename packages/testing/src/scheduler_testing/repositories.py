"""In-memory fakes of the repository ports, honouring the same contract as the real ones."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta

import msgspec

from scheduler_domain import (
    ApiKey,
    AuditEntry,
    AuditQuery,
    FireRecord,
    Page,
    RunQuery,
    RunStatus,
    RunTransition,
    Task,
    TaskQuery,
    TaskRun,
    TaskStatus,
    Trigger,
    WorkerInfo,
    WorkerStatus,
)
from scheduler_errors import Conflict, NotFound


class FakeTaskRepository:
    """Tasks in a dict."""

    def __init__(self, runs: FakeTaskRunRepository | None = None) -> None:
        self.rows: dict[int, Task] = {}
        self.runs = runs or FakeTaskRunRepository()
        self.runs.tasks = self
        self._next_id = 1

    async def add(self, task: Task) -> Task:
        """Store a new task with the next id."""
        if self._name_taken(task):
            raise Conflict(f"a task named {task.name!r} already exists")
        stored = msgspec.structs.replace(task, id=self._next_id)
        self._next_id += 1
        self.rows[stored.id] = stored
        return stored

    async def get(self, task_id: int) -> Task:
        """The task, or `NotFound`."""
        try:
            return self.rows[task_id]
        except KeyError:
            raise NotFound("task", task_id) from None

    async def get_many(self, task_ids: Collection[int]) -> dict[int, Task]:
        """The tasks that exist among `task_ids`."""
        return {task_id: self.rows[task_id] for task_id in task_ids if task_id in self.rows}

    async def update(self, task: Task) -> Task:
        """Replace the stored task."""
        await self.get(task.id)
        if self._name_taken(task):
            raise Conflict(f"a task named {task.name!r} already exists")
        self.rows[task.id] = task
        return task

    def _name_taken(self, task: Task) -> bool:
        """Names are unique among tasks that are not archived."""
        if task.status is TaskStatus.ARCHIVED:
            return False
        return any(
            row.name == task.name and row.id != task.id and row.status is not TaskStatus.ARCHIVED
            for row in self.rows.values()
        )

    async def page(self, query: TaskQuery) -> Page[Task]:
        """Tasks matching the query, by id."""
        rows = [
            task
            for task in sorted(self.rows.values(), key=lambda t: t.id)
            if _task_matches(task, query) and (query.after_id is None or task.id > query.after_id)
        ][: query.limit + 1]
        last = rows[query.limit - 1].id if len(rows) > query.limit else None
        return Page.of(rows, limit=query.limit, last_id=last)

    async def dependency_graph(self) -> Mapping[int, Collection[int]]:
        """Every task's dependencies."""
        return {task.id: task.dependencies for task in self.rows.values()}

    async def downstream(self, task_id: int) -> list[Task]:
        """The task and every task depending on it, directly or not, by id."""
        found = {(await self.get(task_id)).id}
        grew = True
        while grew:
            more = {t.id for t in self.rows.values() if found.intersection(t.dependencies)} - found
            found |= more
            grew = bool(more)
        return [self.rows[key] for key in sorted(found)]

    async def due(self, now: datetime, limit: int) -> Sequence[Task]:
        """Active scheduled tasks due at `now`."""
        due = [
            t
            for t in self.rows.values()
            if t.status is TaskStatus.ACTIVE and t.next_run_at is not None and t.next_run_at <= now
        ]
        return sorted(due, key=lambda t: (t.next_run_at, t.id))[:limit]

    async def record_fires(
        self, task: Task, runs: Sequence[TaskRun], next_run_at: datetime | None
    ) -> list[TaskRun]:
        """Create the fires' runs if `task.next_run_at` is unchanged."""
        stored = self.rows.get(task.id)
        if stored is None or stored.next_run_at != task.next_run_at:
            return []
        existing = set(self.runs.rows)
        added = [await self.runs.add(run) for run in runs]
        created = [run for run in added if run.id not in existing]
        last_run_at = runs[-1].scheduled_for if runs else stored.last_run_at
        self.rows[task.id] = msgspec.structs.replace(stored, next_run_at=next_run_at, last_run_at=last_run_at)
        return created

    async def record_fire_batch(self, plans: Sequence[FireRecord]) -> list[TaskRun]:
        """Each plan as `record_fires` would record it."""
        return await _record_each(self, plans)

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status."""
        return {status: sum(t.status is status for t in self.rows.values()) for status in TaskStatus}


async def _record_each(repository: FakeTaskRepository, plans: Sequence[FireRecord]) -> list[TaskRun]:
    created: list[TaskRun] = []
    for plan in plans:
        created += await repository.record_fires(plan.task, plan.runs, plan.next_run_at)
    return created


def _task_matches(task: Task, query: TaskQuery) -> bool:
    return (
        (query.status is None or task.status is query.status)
        and (query.task_type is None or task.task_type is query.task_type)
        and (query.tag is None or query.tag in task.tags)
        and (query.name is None or query.name.lower() in task.name.lower())
    )


class FakeTaskRunRepository:
    """Runs in a dict."""

    def __init__(self) -> None:
        self.rows: dict[int, TaskRun] = {}
        self.tasks: FakeTaskRepository | None = None
        self._next_id = 1

    async def add(self, run: TaskRun) -> TaskRun:
        """Store a new run, or return the existing one with its idempotency key or cron fire."""
        if self.tasks is not None and run.task_id not in self.tasks.rows:
            raise NotFound("task", run.task_id)
        for row in self.rows.values():
            if row.task_id == run.task_id and _same_run(row, run):
                return row
        stored = msgspec.structs.replace(run, id=self._next_id)
        self._next_id += 1
        self.rows[stored.id] = stored
        return stored

    async def get(self, run_id: int) -> TaskRun:
        """The run, or `NotFound`."""
        try:
            return self.rows[run_id]
        except KeyError:
            raise NotFound("run", run_id) from None

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """Runs matching the query, newest first."""
        rows = [
            run
            for run in sorted(self.rows.values(), key=lambda r: -r.id)
            if _run_matches(run, query) and (query.before_id is None or run.id < query.before_id)
        ][: query.limit + 1]
        last = rows[query.limit - 1].id if len(rows) > query.limit else None
        return Page.of(rows, limit=query.limit, last_id=last)

    async def transition(
        self, run: TaskRun, *, expected: RunStatus, follow_up: TaskRun | None = None
    ) -> TaskRun | None:
        """Store `run` if the stored one is still `expected` at the same attempt."""
        stored = self.rows.get(run.id)
        if stored is None or stored.status is not expected or stored.attempt != run.attempt:
            return None
        self.rows[run.id] = run
        if follow_up is not None:
            await self.add(follow_up)
        return run

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        """The runs with these ids that exist."""
        return {run_id: self.rows[run_id] for run_id in run_ids if run_id in self.rows}

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        """`transition` for each change, in order; all or nothing, like a transaction."""
        saved, next_id = dict(self.rows), self._next_id
        try:
            return [
                await self.transition(change.run, expected=change.expected, follow_up=change.follow_up)
                for change in changes
            ]
        except BaseException:
            self.rows.clear()
            self.rows.update(saved)
            self._next_id = next_id
            raise

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        """The wave's root run and the runs carrying its id, by id."""
        return [run for _, run in sorted(self.rows.items()) if run.wave == wave_id]

    async def stale_waiting(self, before: datetime, limit: int) -> list[TaskRun]:
        """Waiting runs last changed before `before`."""
        stale = [
            r for r in self.rows.values() if r.waiting and r.updated_at is not None and r.updated_at < before
        ]
        return sorted(stale, key=lambda r: r.id)[:limit]

    async def settle_waiting(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """Store each run whose stored one is still waiting."""
        settled = [run for run in runs if (stored := self.rows.get(run.id)) is not None and stored.waiting]
        self.rows.update((run.id, run) for run in settled)
        return settled

    async def claim_pending(self, now: datetime, limit: int) -> list[TaskRun]:
        """Queue the due pending runs that are not waiting, highest priority first."""
        due = [
            r
            for r in self.rows.values()
            if r.status is RunStatus.PENDING
            and not r.waiting
            and (r.scheduled_for is None or r.scheduled_for <= now)
        ]
        due.sort(key=lambda r: (-r.priority.rank, r.scheduled_for or now, r.id))
        claimed = [r.queued(now) for r in due[:limit]]
        for run in claimed:
            self.rows[run.id] = run
        return claimed

    async def overdue(self, now: datetime, grace_seconds: float, limit: int) -> list[TaskRun]:
        """Running runs past their timeout plus grace."""
        grace = timedelta(seconds=grace_seconds)
        late = [r for r in self.rows.values() if (d := r.deadline(grace)) is not None and d <= now]
        return sorted(late, key=lambda r: r.id)[:limit]

    async def stale_queued(self, before: datetime, limit: int) -> list[TaskRun]:
        """Runs queued before `before`."""
        stale = [
            r
            for r in self.rows.values()
            if r.status is RunStatus.QUEUED and r.queued_at is not None and r.queued_at < before
        ]
        return sorted(stale, key=lambda r: r.id)[:limit]

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        """How many runs are in each of `statuses`."""
        return {status: sum(r.status is status for r in self.rows.values()) for status in statuses}


def _same_run(stored: TaskRun, new: TaskRun) -> bool:
    """True when `new` repeats `stored`: the same idempotency key, cron fire, or dependency wave."""
    if new.idempotency_key is not None and stored.idempotency_key == new.idempotency_key:
        return True
    if new.trigger is Trigger.DEPENDENCY and stored.trigger is Trigger.DEPENDENCY:
        return stored.wave_id == new.wave_id
    return (
        new.trigger is Trigger.SCHEDULE
        and stored.trigger is Trigger.SCHEDULE
        and stored.scheduled_for == new.scheduled_for
    )


def _run_matches(run: TaskRun, query: RunQuery) -> bool:
    return (
        (query.task_id is None or run.task_id == query.task_id)
        and (query.status is None or run.status is query.status)
        and (query.worker_id is None or run.worker_id == query.worker_id)
        and (query.since is None or (run.created_at is not None and run.created_at >= query.since))
    )


class FakeWorkerRepository:
    """Workers in a dict."""

    def __init__(self) -> None:
        self.rows: dict[str, WorkerInfo] = {}

    async def save(self, worker: WorkerInfo) -> WorkerInfo:
        """Insert or replace."""
        self.rows[worker.id] = worker
        return worker

    async def register(self, worker: WorkerInfo) -> bool:
        """Insert or replace, unless another registrant holds the id (not offline)."""
        held = self.rows.get(worker.id)
        if (
            held is not None
            and held.status is not WorkerStatus.OFFLINE
            and held.registered_by not in (None, worker.registered_by)
        ):
            return False
        self.rows[worker.id] = worker
        return True

    async def get(self, worker_id: str) -> WorkerInfo:
        """The worker, or `NotFound`."""
        try:
            return self.rows[worker_id]
        except KeyError:
            raise NotFound("worker", worker_id) from None

    async def all(self) -> list[WorkerInfo]:
        """Every worker by id."""
        return [self.rows[key] for key in sorted(self.rows)]

    async def remove(self, worker_id: str) -> None:
        """Forget the worker."""
        await self.get(worker_id)
        del self.rows[worker_id]


class FakeApiKeyRepository:
    """API keys in a dict."""

    def __init__(self) -> None:
        self.rows: dict[int, ApiKey] = {}
        self._next_id = 1

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key."""
        if any(row.key_hash == key.key_hash for row in self.rows.values()):
            raise Conflict("an API key with this secret already exists")
        stored = msgspec.structs.replace(key, id=self._next_id)
        self._next_id += 1
        self.rows[stored.id] = stored
        return stored

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key with this hash, or None."""
        return next((row for row in self.rows.values() if row.key_hash == key_hash), None)

    async def all(self) -> list[ApiKey]:
        """Every key by id."""
        return [self.rows[key] for key in sorted(self.rows)]

    async def revoke(self, key_id: int, now: datetime) -> None:
        """Mark revoked, unless revoked already."""
        if key_id not in self.rows:
            raise NotFound("api key", key_id)
        key = self.rows[key_id]
        self.rows[key_id] = msgspec.structs.replace(key, revoked_at=key.revoked_at or now)

    async def count(self) -> int:
        """How many keys."""
        return len(self.rows)


class FakeAuditLogRepository:
    """Audit entries in a list."""

    def __init__(self) -> None:
        self.rows: list[AuditEntry] = []

    async def record(self, entry: AuditEntry) -> AuditEntry:
        """Append with the next id."""
        stored = msgspec.structs.replace(entry, id=len(self.rows) + 1)
        self.rows.append(stored)
        return stored

    async def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries matching the query, newest first."""
        rows = [
            entry
            for entry in reversed(self.rows)
            if (query.actor is None or entry.actor == query.actor)
            and (query.resource is None or entry.resource == query.resource)
            and (query.before_id is None or entry.id < query.before_id)
        ][: query.limit + 1]
        last = rows[query.limit - 1].id if len(rows) > query.limit else None
        return Page.of(rows, limit=query.limit, last_id=last)
