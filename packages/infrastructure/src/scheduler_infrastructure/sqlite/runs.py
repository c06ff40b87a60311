"""Runs in SQLite."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import msgspec

from scheduler_domain import Page, RunQuery, RunStatus, RunTransition, TaskRun, Trigger
from scheduler_errors import NotFound
from scheduler_infrastructure.sql import page_of, run_listing
from scheduler_infrastructure.sqlite.columns import (
    INTEGER_RANGE,
    SQLITE,
    insert_statement,
    seconds_to_micros,
    to_micros,
    update_statement,
)
from scheduler_infrastructure.sqlite.database import Session, SqliteDatabase
from scheduler_infrastructure.sqlite.run_rows import COLUMNS, params_of, run_of

_INSERT = insert_statement("task_runs", COLUMNS)
# Conditional on the state and attempt the caller read, so stale reports change nothing.
_UPDATE_IF = update_statement("task_runs", COLUMNS, "id = :id AND status = :expected AND attempt = :attempt")
_GET = "SELECT * FROM task_runs WHERE id = ?"
# The ids travel as one JSON array, so no batch is too large for SQLite's parameter limit.
_GET_MANY = "SELECT * FROM task_runs WHERE id IN (SELECT value FROM json_each(?))"
_STALE_WAITING = "SELECT * FROM task_runs WHERE waiting = 1 AND updated_at < ? ORDER BY id LIMIT ?"
_TASK_EXISTS = "SELECT 1 FROM tasks WHERE id = ?"
_SAME_KEY = "SELECT * FROM task_runs WHERE task_id = ? AND idempotency_key = ?"
_SAME_FIRE = "SELECT * FROM task_runs WHERE task_id = ? AND scheduled_for = ? AND trigger = 'schedule'"
_SAME_WAVE = "SELECT * FROM task_runs WHERE task_id = ? AND wave_id = ? AND trigger = 'dependency'"
_WAVE = "SELECT * FROM task_runs WHERE id = :wave OR wave_id = :wave ORDER BY id"
_SETTLE_IF_WAITING = update_statement(
    "task_runs", COLUMNS, "id = :id AND status = 'pending' AND waiting AND attempt = :attempt"
)
_CLAIMABLE = """
SELECT * FROM task_runs
WHERE status = 'pending' AND NOT waiting AND (scheduled_for IS NULL OR scheduled_for <= :now)
ORDER BY priority_rank DESC, COALESCE(scheduled_for, :now), id
LIMIT :limit
"""
_OVERDUE = """
SELECT * FROM task_runs
WHERE status = 'running' AND started_at IS NOT NULL
  AND started_at + timeout_seconds * 1000000 + :grace <= :now
ORDER BY id
LIMIT :limit
"""
_STALE_QUEUED = """
SELECT * FROM task_runs
WHERE status = 'queued' AND queued_at IS NOT NULL AND queued_at < :before
ORDER BY id
LIMIT :limit
"""
# The statuses travel as one JSON array; the index `task_runs_claim`, led by the status, serves it.
_COUNT_BY_STATUS = """
SELECT status, count(*) AS count FROM task_runs
WHERE status IN (SELECT value FROM json_each(?))
GROUP BY status
"""


class SqliteTaskRunRepository:
    """The `TaskRunRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, run: TaskRun) -> TaskRun:
        """Store a new run, or return the one that already holds its idempotency key, fire or wave.

        `NotFound` when its task does not exist.
        """
        async with self._db.transaction() as session:
            stored, _ = await insert_run(session, run)
        return stored

    async def get(self, run_id: int) -> TaskRun:
        """The run, or `NotFound`."""
        if run_id not in INTEGER_RANGE:
            raise NotFound("run", run_id)
        async with self._db.reading() as session:
            row = await session.fetch_one(_GET, (run_id,))
        if row is None:
            raise NotFound("run", run_id)
        return run_of(row)

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """Runs matching `query`, newest (highest id) first."""
        if query.task_id is not None and query.task_id not in INTEGER_RANGE:
            return Page(items=[])
        sql, params = run_listing(query, SQLITE)
        async with self._db.reading() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([run_of(row) for row in rows], query.limit)

    async def transition(
        self, run: TaskRun, *, expected: RunStatus, follow_up: TaskRun | None = None
    ) -> TaskRun | None:
        """Store `run` if the stored one is still `expected` at the same attempt, else None.

        `follow_up` is stored in the same transaction.
        """
        async with self._db.transaction() as session:
            if not await _update_if(session, run, expected):
                return None
            if follow_up is not None:
                await insert_run(session, follow_up)
        return run

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        """The runs with these ids that exist, in one query."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_GET_MANY, (msgspec.json.encode(sorted(set(run_ids))),))
        return {run.id: run for run in map(run_of, rows)}

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        """Apply each conditional change, all in one transaction."""
        if not changes:
            return []
        stored: list[TaskRun | None] = []
        async with self._db.transaction() as session:
            for change in changes:
                moved = await _update_if(session, change.run, change.expected)
                if moved and change.follow_up is not None:
                    await insert_run(session, change.follow_up)
                stored.append(change.run if moved else None)
        return stored

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        """The wave's root run and every run carrying its id, by id."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_WAVE, {"wave": wave_id})
        return [run_of(row) for row in rows]

    async def stale_waiting(self, before: datetime, limit: int) -> list[TaskRun]:
        """Waiting runs last changed before `before`, by id."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_STALE_WAITING, (to_micros(before), limit))
        return [run_of(row) for row in rows]

    async def settle_waiting(self, runs: Sequence[TaskRun]) -> list[TaskRun]:
        """Store each run whose stored row is still waiting, in one transaction."""
        async with self._db.transaction() as session:
            return [run for run in runs if await session.execute(_SETTLE_IF_WAITING, params_of(run))]

    async def claim_pending(self, now: datetime, limit: int) -> list[TaskRun]:
        """Queue up to `limit` due pending runs: highest priority, then earliest, then lowest id."""
        async with self._db.transaction() as session:
            rows = await session.fetch_all(_CLAIMABLE, {"now": to_micros(now), "limit": limit})
            claimed = [run_of(row).queued(now) for row in rows]
            for run in claimed:
                await _update_if(session, run, RunStatus.PENDING)
        return claimed

    async def overdue(self, now: datetime, grace_seconds: float, limit: int) -> list[TaskRun]:
        """Running runs whose timeout plus `grace_seconds` has passed at `now`, by id."""
        params = {"now": to_micros(now), "grace": seconds_to_micros(grace_seconds), "limit": limit}
        async with self._db.reading() as session:
            rows = await session.fetch_all(_OVERDUE, params)
        return [run_of(row) for row in rows]

    async def stale_queued(self, before: datetime, limit: int) -> list[TaskRun]:
        """Runs queued before `before`, by id."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_STALE_QUEUED, {"before": to_micros(before), "limit": limit})
        return [run_of(row) for row in rows]

    async def count_by_status(self, statuses: Collection[RunStatus]) -> dict[RunStatus, int]:
        """How many runs are in each of `statuses` (0 when none), in one query."""
        if not statuses:
            return {}
        counts = dict.fromkeys(statuses, 0)
        values = msgspec.json.encode([status.value for status in counts])
        async with self._db.reading() as session:
            rows = await session.fetch_all(_COUNT_BY_STATUS, (values,))
        return counts | {RunStatus(row["status"]): row["count"] for row in rows}


async def insert_run(session: Session, run: TaskRun) -> tuple[TaskRun, bool]:
    """Store `run` unless its idempotency key, cron fire or dependency wave already has a run.

    Returns the stored run and whether it is new.
    """
    if await session.fetch_one(_TASK_EXISTS, (run.task_id,)) is None:
        raise NotFound("task", run.task_id)
    existing = await _existing(session, run)
    if existing is not None:
        return existing, False
    run_id = await session.insert(_INSERT, params_of(run))
    return msgspec.structs.replace(run, id=run_id), True


async def _existing(session: Session, run: TaskRun) -> TaskRun | None:
    row = None
    if run.idempotency_key is not None:
        row = await session.fetch_one(_SAME_KEY, (run.task_id, run.idempotency_key))
    if row is None and run.trigger is Trigger.SCHEDULE and run.scheduled_for is not None:
        row = await session.fetch_one(_SAME_FIRE, (run.task_id, to_micros(run.scheduled_for)))
    if row is None and run.trigger is Trigger.DEPENDENCY:
        row = await session.fetch_one(_SAME_WAVE, (run.task_id, run.wave_id))
    return None if row is None else run_of(row)


async def _update_if(session: Session, run: TaskRun, expected: RunStatus) -> bool:
    return bool(await session.execute(_UPDATE_IF, {**params_of(run), "expected": expected.value}))
