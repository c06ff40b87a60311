"""Repository ports: what the use cases need from storage, in the domain's words.

Every implementation (in-memory fake, SQLite, PostgreSQL) passes the same conformance suite.
Methods raise `NotFound` for an unknown id and `Unavailable` when the store does not answer.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from msgspec import Struct

from scheduler_domain.audit import AuditEntry, AuditQuery
from scheduler_domain.query import Page, RunQuery, TaskQuery
from scheduler_domain.run import TaskRun
from scheduler_domain.security import ApiKey
from scheduler_domain.task import Task
from scheduler_domain.values import RunStatus, TaskStatus
from scheduler_domain.worker import WorkerInfo


class TaskRepository(Protocol):
    """Stores tasks and hands out their due cron fires."""

    async def add(self, task: Task) -> Task:
        """Store a new task; returns it with its id.

        `Conflict` when another task that is not archived has the same name (also on `update`).
        """
        ...

    async def get(self, task_id: int) -> Task:
        """The task with `task_id`."""
        ...

    async def update(self, task: Task) -> Task:
        """Replace the stored task with the same id; returns what was stored."""
        ...

    async def get_many(self, task_ids: Collection[int]) -> dict[int, Task]:
        """The tasks with these ids that exist, by id (one round trip)."""
        ...

    async def page(self, query: TaskQuery) -> Page[Task]:
        """One page of tasks matching `query`."""
        ...

    async def dependency_graph(self) -> Mapping[int, Collection[int]]:
        """Every task id (archived included) mapped to the ids it depends on."""
        ...

    async def downstream(self, task_id: int) -> list[Task]:
        """The task `task_id` and every task downstream of it, by id, archived ones included.

        Downstream: depending on it directly or through other tasks (a dependency wave's tasks).
        """
        ...

    async def due(self, now: datetime, limit: int) -> Sequence[Task]:
        """Active scheduled tasks whose `next_run_at` is at or before `now`, earliest first."""
        ...

    async def record_fires(
        self, task: Task, runs: Sequence[TaskRun], next_run_at: datetime | None
    ) -> list[TaskRun]:
        """Atomically create `runs` for `task`'s due fires and advance its `next_run_at`.

        Succeeds only if `task.next_run_at` is still the stored one, so that of several
        dispatchers racing over the same fire exactly one creates its run; the others get [].
        """
        ...

    async def record_fire_batch(self, plans: Sequence[FireRecord]) -> list[TaskRun]:
        """`record_fires` for many tasks in one transaction (one round trip per statement kind).

        Each plan succeeds or is skipped on its own, exactly as `record_fires` would decide.
        """
        ...

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status; every `TaskStatus` is a key (0 when none)."""
        ...


class FireRecord(Struct, frozen=True, kw_only=True):
    """The due fires of one task as read (`task.next_run_at` is the expected stored value)."""

    task: Task
    runs: Sequence[TaskRun]
    next_run_at: datetime | None


class RunTransition(Struct, frozen=True, kw_only=True):
    """One conditional change of a run, as `TaskRunRepository.transition` takes it."""

    run: TaskRun
    expected: RunStatus
    follow_up: TaskRun | None = None


class TaskRunRepository(Protocol):
    """Stores runs; every change of state is conditional on the state and attempt it expects."""

    async def add(self, run: TaskRun) -> TaskRun:
        """Store a new run; returns it with its id.

        A run with an `idempotency_key` already used for the same task is not stored twice:
        the existing run is returned instead. Nor is a second `dependency` run of a task in one
        wave (the same `wave_id`), however many callers race to create it.
        """
        ...

    async def get(self, run_id: int) -> TaskRun:
        """The run with `run_id`."""
        ...

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """One page of runs matching `query`, newest first."""
        ...

    async def transition(
        self, run: TaskRun, *, expected: RunStatus, follow_up: TaskRun | None = None
    ) -> TaskRun | None:
        """Store `run` if the stored row still has status `expected` and the same attempt.

        `follow_up` (the next attempt of a retried run) is stored in the same transaction.
        Returns the stored run, or None when the condition failed and nothing changed.
        """
        ...

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        """The runs with these ids, by id, read at once; ids of no run are left out."""
        ...

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        """Apply every change as `transition` would, in one transaction and as few round trips
        as the store allows (a batch of status reports).

        Each change stays conditional on its own: the result at each index is the stored run, or
        None when that change's condition failed (the others still apply). Changes name
        distinct runs.
        """
        ...

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        """Every run of the dependency wave `wave_id`: its root run and the runs carrying it, by id."""
        ...

    async def stale_waiting(self, before: datetime, limit: int) -> list[TaskRun]:
        """Waiting runs last changed before `before` (their release may have been lost), by id."""
        ...

    async def settle_waiting(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """Store each of `runs` (a waiting run released or skipped) if it is still waiting.

        Returns the runs stored; one that a concurrent caller settled first is left out.
        """
        ...

    async def claim_pending(self, now: datetime, limit: int) -> list[TaskRun]:
        """Move up to `limit` pending runs due at `now` to `queued`, highest priority first.

        A run is claimed by one caller only; a `waiting` run is not claimed. Returns the runs as
        stored (status `queued`).
        """
        ...

    async def overdue(self, now: datetime, grace_seconds: float, limit: int) -> list[TaskRun]:
        """Running runs whose timeout plus `grace_seconds` has passed at `now`."""
        ...

    async def stale_queued(self, before: datetime, limit: int) -> list[TaskRun]:
        """Queued runs that were queued before `before` (their message may be lost)."""
        ...

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        """How many runs are in each of `statuses`; every status asked for is a key (0 when none).

        One statement, served by an index on the status (ask for the non-final statuses: the
        final ones hold the whole run history). An empty `statuses` gives {} without a query.
        """
        ...


class WorkerRepository(Protocol):
    """Stores the workers known to the scheduler."""

    async def save(self, worker: WorkerInfo) -> WorkerInfo:
        """Insert or replace the worker with `worker.id`."""
        ...

    async def register(self, worker: WorkerInfo) -> bool:
        """Insert or replace the worker with `worker.id` unless another registrant holds that id:
        a stored worker that is not offline, registered by someone (`registered_by`) other than
        `worker.registered_by`. One atomic step: of two registrants racing for an id, one wins.
        True when stored."""
        ...

    async def get(self, worker_id: str) -> WorkerInfo:
        """The worker with `worker_id`."""
        ...

    async def all(self) -> list[WorkerInfo]:
        """Every known worker, by id."""
        ...

    async def remove(self, worker_id: str) -> None:
        """Forget the worker."""
        ...


class ApiKeyRepository(Protocol):
    """Stores hashed API keys."""

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; returns it with its id."""
        ...

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `key_hash`, revoked or not, or None."""
        ...

    async def all(self) -> list[ApiKey]:
        """Every key, by id."""
        ...

    async def revoke(self, key_id: int, now: datetime) -> None:
        """Mark the key revoked at `now`; one revoked already keeps its time. `NotFound` for an
        unknown id."""
        ...

    async def count(self) -> int:
        """How many keys exist (revoked included)."""
        ...


class AuditLogRepository(Protocol):
    """Stores audit entries; they are never changed or deleted through the scheduler."""

    async def record(self, entry: AuditEntry) -> AuditEntry:
        """Store an entry; returns it with its id."""
        ...

    async def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """One page of entries matching `query`, newest (highest id) first."""
        ...


class LeaseRepository(Protocol):
    """Named, time-limited leases: one holder at a time (the dispatchers' leader election).

    Expiry is judged by the store's own clock, so instances whose clocks disagree still agree on
    who holds a lease.
    """

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease `name` until `ttl` from now; True when `holder` holds it now.

        Succeeds when the lease is free, expired, or already `holder`'s; while another holder's
        lease is valid it is refused (False) and left as it is.
        """
        ...

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up so another may take it at once; nothing when `holder` does not hold it."""
        ...

    async def holder(self, name: str) -> str | None:
        """Who holds the lease `name` now, or None when it is free or expired."""
        ...
