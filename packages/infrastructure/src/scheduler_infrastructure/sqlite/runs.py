"""Runs in SQLite."""

from __future__ import annotations

from datetime import datetime

import msgspec

from scheduler_domain import Page, RunQuery, RunStatus, TaskRun, Trigger
from scheduler_errors import NotFound
from scheduler_infrastructure.sql import page_of, run_listing
from scheduler_infrastructure.sqlite.columns import (
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
_TASK_EXISTS = "SELECT 1 FROM tasks WHERE id = ?"
_SAME_KEY = "SELECT * FROM task_runs WHERE task_id = ? AND idempotency_key = ?"
_SAME_FIRE = "SELECT * FROM task_runs WHERE task_id = ? AND scheduled_for = ? AND trigger = 'schedule'"
_CLAIMABLE = """
SELECT * FROM task_runs
WHERE status = 'pending' AND (scheduled_for IS NULL OR scheduled_for <= :now)
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


class SqliteTaskRunRepository:
    """The `TaskRunRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, run: TaskRun) -> TaskRun:
        """Store a new run, or return the one that already holds its idempotency key or fire.

        `NotFound` when its task does not exist.
        """
        async with self._db.transaction() as session:
            stored, _ = await insert_run(session, run)
        return stored

    async def get(self, run_id: int) -> TaskRun:
        """The run, or `NotFound`."""
        async with self._db.reading() as session:
            row = await session.fetch_one(_GET, (run_id,))
        if row is None:
            raise NotFound("run", run_id)
        return run_of(row)

    async def page(self, query: RunQuery) -> Page[TaskRun]:
        """Runs matching `query`, newest (highest id) first."""
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


async def insert_run(session: Session, run: TaskRun) -> tuple[TaskRun, bool]:
    """Store `run` unless its idempotency key or cron fire already has a run.

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
    return None if row is None else run_of(row)


async def _update_if(session: Session, run: TaskRun, expected: RunStatus) -> bool:
    return bool(await session.execute(_UPDATE_IF, {**params_of(run), "expected": expected.value}))
