"""Runs in PostgreSQL."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from psycopg import errors

from scheduler_domain import (
    AuditEntry,
    Page,
    RunQuery,
    RunStatus,
    RunTransition,
    Task,
    TaskRun,
    Trigger,
)
from scheduler_errors import Conflict, NotFound
from scheduler_infrastructure.postgres.columns import (
    POSTGRES,
    aware,
    insert_rows_statement,
    row_values,
    update_statement,
)
from scheduler_infrastructure.postgres.database import PostgresDatabase, Row, Session
from scheduler_infrastructure.postgres.manual_runs import manual_run_insert
from scheduler_infrastructure.postgres.run_rows import COLUMNS, params_of, run_of
from scheduler_infrastructure.postgres.task_rows import COLUMNS as TASK_COLUMNS
from scheduler_infrastructure.postgres.task_rows import task_of
from scheduler_infrastructure.sql import page_of, run_listing

#: Rows per INSERT when many runs are stored at once (PostgreSQL binds at most 65535 parameters).
_ROWS_PER_INSERT = 1000
# Conditional on the state and attempt the caller read, so stale reports change nothing.
_UPDATE_IF = update_statement(
    "task_runs", COLUMNS, "id = %(id)s AND status = %(expected)s AND attempt = %(attempt)s"
)
_GET = "SELECT * FROM task_runs WHERE id = %(id)s"
_GET_MANY = "SELECT * FROM task_runs WHERE id = ANY(%(ids)s)"
_STALE_WAITING = (
    "SELECT * FROM task_runs WHERE waiting AND updated_at < %(before)s ORDER BY id LIMIT %(limit)s"
)
#: The SQL type of each column of `task_runs`, to pass a batch of rows as one array per column.
_COLUMN_TYPES = {
    "id": "bigint",
    "task_id": "bigint",
    "attempt": "integer",
    "status": "text",
    "trigger": "text",
    "task_type": "text",
    "priority": "text",
    "priority_rank": "smallint",
    "timeout_seconds": "integer",
    "arguments": "jsonb",
    "idempotency_key": "text",
    "worker_id": "text",
    "scheduled_for": "timestamptz",
    "queued_at": "timestamptz",
    "started_at": "timestamptz",
    "completed_at": "timestamptz",
    "cancel_requested_at": "timestamptz",
    "result": "jsonb",
    "error_message": "text",
    "exit_code": "integer",
    "retry_count": "integer",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "wave_id": "bigint",
    "waiting": "boolean",
    "traceparent": "text",
    "expected": "text",
}
_BATCH_FIELDS = ("id", "expected", *COLUMNS)
# Every change of a batch in one statement: the rows come as one array per column, and each row
# is stored only if it still has the expected status and attempt (as `_UPDATE_IF`).
_UPDATE_BATCH_IF = (
    "UPDATE task_runs AS t SET "  # noqa: S608 - column names only, from COLUMNS
    + ", ".join(f"{c} = v.{c}" for c in COLUMNS)
    + " FROM unnest("
    + ", ".join(f"%({c})s::{_COLUMN_TYPES[c]}[]" for c in _BATCH_FIELDS)
    + ") AS v("
    + ", ".join(_BATCH_FIELDS)
    + ") WHERE t.id = v.id AND t.status = v.expected AND t.attempt = v.attempt RETURNING t.id"
)
_SAME_KEY = "SELECT * FROM task_runs WHERE task_id = %(task_id)s AND idempotency_key = %(key)s"
_SAME_FIRE = """
SELECT * FROM task_runs WHERE task_id = %(task_id)s AND scheduled_for = %(fire)s AND trigger = 'schedule'
"""
_SAME_WAVE = """
SELECT * FROM task_runs WHERE task_id = %(task_id)s AND wave_id = %(wave)s AND trigger = 'dependency'
"""
_WAVE = "SELECT * FROM task_runs WHERE id = %(wave)s OR wave_id = %(wave)s ORDER BY id"
_SETTLE_IF_WAITING = update_statement(
    "task_runs", COLUMNS, "id = %(id)s AND status = 'pending' AND waiting AND attempt = %(attempt)s"
)
# Locks up to `limit` claimable rows, skipping those another dispatcher holds, and queues them in
# the same statement. The order is the one of the partial index `task_runs_claimable`, so the scan
# stops after about `limit` entries. The SET mirrors `TaskRun.queued(now)`.
_CLAIMING = """
WITH claimable AS MATERIALIZED (
    SELECT id FROM task_runs
    WHERE status = 'pending' AND NOT waiting AND (scheduled_for IS NULL OR scheduled_for <= %(now)s)
    ORDER BY priority_rank DESC, scheduled_for NULLS LAST, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE task_runs AS run
    SET status = 'queued', queued_at = %(now)s, updated_at = %(now)s
    FROM claimable
    WHERE run.id = claimable.id
    RETURNING run.*
)
"""
_CLAIM = _CLAIMING + "SELECT * FROM claimed"  # noqa: S608 - fixed clauses, bound values
#: The task's columns, prefixed so that they do not shadow the run's.
_TASK_PREFIX = "task_row_"
_TASK_FIELDS = ("id", *TASK_COLUMNS)
# The claim, each run with its task's columns: on the first run of each task only, so that a
# batch of many runs of one task carries (and decodes) the task once. A first run whose task
# columns are NULL has no task (deleted).
_TASK_SELECT = ", ".join(f"task.{field} AS {_TASK_PREFIX}{field}" for field in _TASK_FIELDS)
_CLAIM_WITH_TASKS = f"""{_CLAIMING}
SELECT claimed.*, {_TASK_SELECT}
FROM (SELECT *, row_number() OVER (PARTITION BY task_id) AS nth FROM claimed) AS claimed
LEFT JOIN tasks AS task ON claimed.nth = 1 AND task.id = claimed.task_id
"""  # noqa: S608 - fixed clauses and column names, bound values
_OVERDUE = """
SELECT * FROM task_runs
WHERE status = 'running' AND started_at IS NOT NULL
  AND started_at + timeout_seconds * interval '1 second' + %(grace)s <= %(now)s
ORDER BY id
LIMIT %(limit)s
"""
_STALE_QUEUED = """
SELECT * FROM task_runs
WHERE status = 'queued' AND queued_at IS NOT NULL AND queued_at < %(before)s
ORDER BY id
LIMIT %(limit)s
"""
# Served by the index `task_runs_status`: it reads the entries of the statuses asked for only.
_COUNT_BY_STATUS = (
    "SELECT status, count(*) AS count FROM task_runs WHERE status = ANY(%(statuses)s) GROUP BY status"
)


class PostgresTaskRunRepository:
    """The `TaskRunRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, run: TaskRun) -> TaskRun:
        """Store a new run, or return the one that already holds its idempotency key, fire or wave.

        `NotFound` when its task does not exist. Autocommit on purpose: when the INSERT finds
        the key taken, it has waited for the run holding it to commit, and the SELECT that
        follows (a new statement, so a new snapshot) sees that run.
        """

        async def store(session: Session) -> TaskRun:
            created = await insert_runs(session, [run])
            if created:
                return created[0]
            existing = await _existing(session, run)
            if existing is None:
                raise Conflict(f"run of task {run.task_id} conflicts with a stored run")
            return existing

        return await self._db.run(store, transaction=False)

    async def add_from_task(self, run: TaskRun, audit: AuditEntry | None = None) -> TaskRun | None:
        """Store `run` with the `task_type`, `priority` and `timeout_seconds` of its task as stored
        now (its own are ignored), reading the task in the same statement: one round trip.

        With `audit`, that entry is stored by the same statement, its detail completed with the
        run's id under `run_id`: both or neither.

        None, storing nothing, when the task does not exist or is archived, or a run holds the
        idempotency key already: the caller then takes the long way (`TaskRunRepository.add` after
        reading the task), which tells these apart.
        """
        statement, params = manual_run_insert(params_of(run), audit)
        row = await self._db.run(lambda session: session.fetch_one(statement, params), transaction=False)
        return None if row is None else run_of(row)

    async def get(self, run_id: int) -> TaskRun:
        """The run, or `NotFound`."""
        async with self._db.session() as session:
            row = await session.fetch_one(_GET, {"id": run_id})
        if row is None:
            raise NotFound("run", run_id)
        return run_of(row)

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """Runs matching `query`, newest (highest id) first (one statement)."""
        sql, params = run_listing(query, POSTGRES)
        async with self._db.session() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([run_of(row) for row in rows], query.limit)

    async def transition(
        self, run: TaskRun, *, expected: RunStatus, follow_up: TaskRun | None = None
    ) -> TaskRun | None:
        """Store `run` if the stored one is still `expected` at the same attempt, else None.

        `follow_up` is stored in the same transaction.
        """
        params = {**params_of(run), "expected": expected.value}

        async def move(session: Session) -> TaskRun | None:
            if not await session.execute(_UPDATE_IF, params):
                return None
            if follow_up is not None:
                await insert_runs(session, [follow_up])
            return run

        return await self._db.run(move, transaction=follow_up is not None)

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        """The runs with these ids that exist, in one statement."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_GET_MANY, {"ids": sorted(set(run_ids))})
        return {run.id: run for run in map(run_of, rows)}

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        """Apply each conditional change in one transaction: one UPDATE for the whole batch (its
        rows in id order, so that concurrent batches lock rows in the same order), then one
        INSERT of the follow-ups whose change applied. Without follow-ups the UPDATE alone is the
        transaction (autocommit), which spares the `BEGIN` and `COMMIT` round trips."""
        if not changes:
            return []
        order = sorted(range(len(changes)), key=lambda index: changes[index].run.id)
        rows = [{**params_of(changes[i].run), "expected": changes[i].expected.value} for i in order]
        columns = {field: [row[field] for row in rows] for field in _BATCH_FIELDS}

        async def move(session: Session) -> list[TaskRun | None]:
            updated = {row["id"] for row in await session.fetch_all(_UPDATE_BATCH_IF, columns)}
            moved = {i for i in order if changes[i].run.id in updated}
            follow_ups = [changes[i].follow_up for i in order if i in moved]
            await insert_runs(session, [run for run in follow_ups if run is not None])
            return [change.run if i in moved else None for i, change in enumerate(changes)]

        return await self._db.run(move, transaction=any(change.follow_up is not None for change in changes))

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        """The wave's root run and every run carrying its id, by id."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_WAVE, {"wave": wave_id})
        return [run_of(row) for row in rows]

    async def stale_waiting(self, before: datetime, limit: int) -> list[TaskRun]:
        """Waiting runs last changed before `before`, by id."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_STALE_WAITING, {"before": aware(before), "limit": limit})
        return [run_of(row) for row in rows]

    async def settle_waiting(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """Store each run whose stored row is still waiting, in one transaction.

        Under READ COMMITTED an UPDATE racing a concurrent settle of the same row waits for its
        commit, then finds the row no longer waiting and changes nothing.
        """
        ordered = sorted(runs, key=lambda run: run.id)  # one lock order for concurrent callers

        async def settle(session: Session) -> list[TaskRun]:
            return [run for run in ordered if await session.execute(_SETTLE_IF_WAITING, params_of(run))]

        return await self._db.run(settle) if ordered else []

    async def claim_pending(self, now: datetime, limit: int) -> list[TaskRun]:
        """Queue up to `limit` due pending runs in one statement, safe with several dispatchers.

        Highest priority first, then earliest `scheduled_for`, unscheduled runs after scheduled
        ones, then lowest id.
        """
        params = {"now": aware(now), "limit": limit}
        rows = await self._db.run(lambda session: session.fetch_all(_CLAIM, params), transaction=False)
        return _by_claim_order([run_of(row) for row in rows], now)

    async def claim_pending_with_tasks(
        self, now: datetime, limit: int
    ) -> tuple[list[TaskRun], dict[int, Task]]:
        """`claim_pending`, and the tasks of the runs claimed, by id, in the same statement."""
        params = {"now": aware(now), "limit": limit}
        rows = await self._db.run(
            lambda session: session.fetch_all(_CLAIM_WITH_TASKS, params), transaction=False
        )
        tasks = {
            task.id: task for task in (_task_in(row) for row in rows if row[f"{_TASK_PREFIX}id"] is not None)
        }
        claimed = [run_of(row) for row in rows]
        return _by_claim_order(claimed, now), tasks

    async def overdue(self, now: datetime, grace_seconds: float, limit: int) -> list[TaskRun]:
        """Running runs whose timeout plus `grace_seconds` has passed at `now`, by id."""
        params = {"now": aware(now), "grace": timedelta(seconds=grace_seconds), "limit": limit}
        async with self._db.session() as session:
            rows = await session.fetch_all(_OVERDUE, params)
        return [run_of(row) for row in rows]

    async def stale_queued(self, before: datetime, limit: int) -> list[TaskRun]:
        """Runs queued before `before`, by id."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_STALE_QUEUED, {"before": aware(before), "limit": limit})
        return [run_of(row) for row in rows]

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        """How many runs are in each of `statuses` (0 when none), in one statement."""
        if not statuses:
            return {}
        counts = dict.fromkeys(statuses, 0)
        params = {"statuses": [status.value for status in counts]}
        async with self._db.session() as session:
            rows = await session.fetch_all(_COUNT_BY_STATUS, params)
        return counts | {RunStatus(row["status"]): row["count"] for row in rows}


async def insert_runs(session: Session, runs: Sequence[TaskRun]) -> list[TaskRun]:
    """Store `runs` with one INSERT (per thousand), skipping those whose key, fire or wave has a run.

    Returns the runs that were new, as stored, in the order given. `NotFound` when their task
    does not exist.
    """
    created: list[TaskRun] = []
    for start in range(0, len(runs), _ROWS_PER_INSERT):
        chunk = [params_of(run) for run in runs[start : start + _ROWS_PER_INSERT]]
        sql = insert_rows_statement("task_runs", COLUMNS, len(chunk)) + " ON CONFLICT DO NOTHING RETURNING *"
        try:
            rows = await session.fetch_all(sql, row_values(chunk, COLUMNS))
        except errors.ForeignKeyViolation as exc:
            raise NotFound("task", runs[start].task_id) from exc
        # Ids follow the order of the VALUES; RETURNING alone does not promise any order.
        created += sorted((run_of(row) for row in rows), key=lambda r: r.id)
    return created


def _by_claim_order(claimed: list[TaskRun], now: datetime) -> list[TaskRun]:
    """Highest priority first, then earliest `scheduled_for` (unscheduled last), then lowest id."""
    return sorted(
        claimed, key=lambda r: (-r.priority.rank, r.scheduled_for is None, r.scheduled_for or now, r.id)
    )


def _task_in(row: Row) -> Task:
    return task_of({field: row[_TASK_PREFIX + field] for field in _TASK_FIELDS})


async def _existing(session: Session, run: TaskRun) -> TaskRun | None:
    row = None
    if run.idempotency_key is not None:
        row = await session.fetch_one(_SAME_KEY, {"task_id": run.task_id, "key": run.idempotency_key})
    if row is None and run.trigger is Trigger.SCHEDULE and run.scheduled_for is not None:
        row = await session.fetch_one(_SAME_FIRE, {"task_id": run.task_id, "fire": aware(run.scheduled_for)})
    if row is None and run.trigger is Trigger.DEPENDENCY:
        row = await session.fetch_one(_SAME_WAVE, {"task_id": run.task_id, "wave": run.wave_id})
    return None if row is None else run_of(row)
