"""Tasks in SQLite."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

import msgspec

from scheduler_domain import FireRecord, Page, Task, TaskQuery, TaskRun, TaskStatus
from scheduler_errors import Conflict, NotFound
from scheduler_infrastructure.sql import page_of, task_listing
from scheduler_infrastructure.sqlite.columns import (
    INTEGER_RANGE,
    SQLITE,
    insert_statement,
    to_micros,
    update_statement,
)
from scheduler_infrastructure.sqlite.database import Session, SqliteDatabase
from scheduler_infrastructure.sqlite.runs import insert_run
from scheduler_infrastructure.sqlite.task_rows import COLUMNS, dependencies_of, params_of, task_of

_INSERT = insert_statement("tasks", COLUMNS)
_UPDATE = update_statement("tasks", COLUMNS, "id = :id")
_GET = "SELECT * FROM tasks WHERE id = ?"
_GET_MANY = "SELECT * FROM tasks WHERE id IN (SELECT value FROM json_each(?))"
_EXISTS = "SELECT 1 FROM tasks WHERE id = ?"
# The task and, step by step, every task whose dependencies name one already found.
_DOWNSTREAM = """
WITH RECURSIVE downstream (id) AS (
    SELECT id FROM tasks WHERE id = :id
    UNION
    SELECT tasks.id FROM tasks, downstream
    WHERE EXISTS (SELECT 1 FROM json_each(tasks.dependencies) WHERE json_each.value = downstream.id)
)
SELECT * FROM tasks WHERE id IN (SELECT id FROM downstream) ORDER BY id
"""
_NAME_TAKEN = "SELECT 1 FROM tasks WHERE name = :name AND status != 'archived' AND id != :id"
_DUE = """
SELECT * FROM tasks
WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= :now
ORDER BY next_run_at, id
LIMIT :limit
"""
_COUNT_BY_STATUS = "SELECT status, count(*) AS count FROM tasks GROUP BY status"
# Moves only if no other dispatcher has moved it since `task` was read.
_ADVANCE = """
UPDATE tasks
SET next_run_at = :next_run_at,
    last_run_at = CASE WHEN :has_fires THEN :last_run_at ELSE last_run_at END
WHERE id = :id AND next_run_at IS :expected
"""


class SqliteTaskRepository:
    """The `TaskRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, task: Task) -> Task:
        """Store a new task; `Conflict` when an unarchived task has its name."""
        async with self._db.transaction() as session:
            await _check_name(session, task)
            params = params_of(task)
            task_id = await session.insert(_INSERT, params)
        return msgspec.structs.replace(task, id=task_id)

    async def get(self, task_id: int) -> Task:
        """The task, or `NotFound`."""
        if task_id not in INTEGER_RANGE:
            raise NotFound("task", task_id)
        async with self._db.reading() as session:
            row = await session.fetch_one(_GET, (task_id,))
        if row is None:
            raise NotFound("task", task_id)
        return task_of(row)

    async def get_many(self, task_ids: Collection[int]) -> dict[int, Task]:
        """The tasks with these ids that exist, in one query."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_GET_MANY, (msgspec.json.encode(sorted(set(task_ids))),))
        return {task.id: task for task in map(task_of, rows)}

    async def update(self, task: Task) -> Task:
        """Replace the stored task; `NotFound` for an unknown id, `Conflict` for a taken name."""
        if task.id not in INTEGER_RANGE:
            raise NotFound("task", task.id)
        async with self._db.transaction() as session:
            if await session.fetch_one(_EXISTS, (task.id,)) is None:
                raise NotFound("task", task.id)
            await _check_name(session, task)
            await session.execute(_UPDATE, params_of(task))
        return task

    async def page(self, query: TaskQuery) -> Page[Task]:
        """Tasks matching `query`, by id ascending."""
        sql, params = task_listing(query, SQLITE)
        async with self._db.reading() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([task_of(row) for row in rows], query.limit)

    async def dependency_graph(self) -> Mapping[int, Collection[int]]:
        """Every task id, archived included, mapped to the ids it depends on."""
        async with self._db.reading() as session:
            rows = await session.fetch_all("SELECT id, dependencies FROM tasks")
        return {row["id"]: dependencies_of(row["dependencies"]) for row in rows}

    async def downstream(self, task_id: int) -> list[Task]:
        """The task and every task downstream of it, by id; `NotFound` for an unknown id."""
        if task_id not in INTEGER_RANGE:
            raise NotFound("task", task_id)
        async with self._db.reading() as session:
            rows = await session.fetch_all(_DOWNSTREAM, {"id": task_id})
        if not rows:
            raise NotFound("task", task_id)
        return [task_of(row) for row in rows]

    async def due(self, now: datetime, limit: int) -> Sequence[Task]:
        """Active scheduled tasks whose next fire is at or before `now`, earliest first."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_DUE, {"now": to_micros(now), "limit": limit})
        return [task_of(row) for row in rows]

    async def record_fires(
        self, task: Task, runs: Sequence[TaskRun], next_run_at: datetime | None
    ) -> list[TaskRun]:
        """Create the runs of `task`'s due fires and advance it, if no one else did first.

        A fire that already has its run (another dispatcher, clock skew) is not run twice.
        """
        return await self.record_fire_batch([FireRecord(task=task, runs=runs, next_run_at=next_run_at)])

    async def record_fire_batch(self, plans: Sequence[FireRecord]) -> list[TaskRun]:
        """Every plan in one transaction, each advanced only if no one else did first."""
        async with self._db.transaction() as session:
            created: list[TaskRun] = []
            for plan in plans:
                created += await _record(session, plan)
            return created

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status (0 when none), in one query."""
        async with self._db.reading() as session:
            rows = await session.fetch_all(_COUNT_BY_STATUS)
        return dict.fromkeys(TaskStatus, 0) | {TaskStatus(row["status"]): row["count"] for row in rows}


async def _record(session: Session, plan: FireRecord) -> list[TaskRun]:
    runs = plan.runs
    advance = {
        "id": plan.task.id,
        "expected": to_micros(plan.task.next_run_at),
        "next_run_at": to_micros(plan.next_run_at),
        "has_fires": bool(runs),
        "last_run_at": to_micros(runs[-1].scheduled_for) if runs else None,
    }
    if not await session.execute(_ADVANCE, advance):
        return []
    created: list[TaskRun] = []
    for run in runs:
        stored, is_new = await insert_run(session, run)
        if is_new:
            created.append(stored)
    return created


async def _check_name(session: Session, task: Task) -> None:
    if task.status is TaskStatus.ARCHIVED:
        return
    if await session.fetch_one(_NAME_TAKEN, {"name": task.name, "id": task.id}) is not None:
        raise Conflict(f"a task named {task.name!r} already exists")
