"""Tasks in PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from scheduler_domain import FireRecord, Page, Task, TaskQuery, TaskRun, TaskStatus
from scheduler_errors import Conflict, NotFound
from scheduler_infrastructure.postgres.columns import POSTGRES, aware, insert_statement, update_statement
from scheduler_infrastructure.postgres.database import PostgresDatabase, Session
from scheduler_infrastructure.postgres.runs import insert_runs
from scheduler_infrastructure.postgres.task_rows import COLUMNS, dependencies_of, params_of, task_of
from scheduler_infrastructure.sql import page_of, task_listing

_INSERT = insert_statement("tasks", COLUMNS) + " RETURNING id"
_UPDATE = update_statement("tasks", COLUMNS, "id = %(id)s")
_GET = "SELECT * FROM tasks WHERE id = %(id)s"
_GET_MANY = "SELECT * FROM tasks WHERE id = ANY(%(ids)s)"
# The task and, step by step, every task whose dependencies hold one already found; the GIN
# index `tasks_dependencies` answers each `@>` probe, so a task nobody depends on costs one lookup.
_DOWNSTREAM = """
WITH RECURSIVE downstream (id) AS (
    SELECT id FROM tasks WHERE id = %(id)s
    UNION
    SELECT tasks.id FROM tasks JOIN downstream ON tasks.dependencies @> jsonb_build_array(downstream.id)
)
SELECT * FROM tasks WHERE id IN (SELECT id FROM downstream) ORDER BY id
"""
# Served by the partial index `tasks_due`: the scan reads the due rows only, however many tasks exist.
_DUE = """
SELECT * FROM tasks
WHERE status = 'active' AND next_run_at IS NOT NULL AND next_run_at <= %(now)s
ORDER BY next_run_at, id
LIMIT %(limit)s
"""
_COUNT_BY_STATUS = "SELECT status, count(*) AS count FROM tasks GROUP BY status"
# Moves only if no other dispatcher has moved it since `task` was read: under READ COMMITTED a
# racing UPDATE waits for the first one's commit, then finds `next_run_at` changed and does nothing.
_ADVANCE_MANY = """
UPDATE tasks AS t
SET next_run_at = v.next_run_at,
    last_run_at = CASE WHEN v.has_fires THEN v.last_run_at ELSE t.last_run_at END
FROM (VALUES {rows}) AS v(id, expected, next_run_at, has_fires, last_run_at)
WHERE t.id = v.id AND t.next_run_at IS NOT DISTINCT FROM v.expected
RETURNING t.id
"""


class PostgresTaskRepository:
    """The `TaskRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, task: Task) -> Task:
        """Store a new task; `Conflict` when an unarchived task has its name."""
        params = params_of(task)
        with _name_is_unique(task):
            row = await self._db.run(lambda session: session.fetch_one(_INSERT, params), transaction=False)
        if row is None:
            raise RuntimeError("INSERT stored no task")
        return msgspec.structs.replace(task, id=row["id"])

    async def get(self, task_id: int) -> Task:
        """The task, or `NotFound`."""
        async with self._db.session() as session:
            row = await session.fetch_one(_GET, {"id": task_id})
        if row is None:
            raise NotFound("task", task_id)
        return task_of(row)

    async def get_many(self, task_ids: Collection[int]) -> dict[int, Task]:
        """The tasks with these ids that exist, in one statement."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_GET_MANY, {"ids": sorted(set(task_ids))})
        return {task.id: task for task in map(task_of, rows)}

    async def update(self, task: Task) -> Task:
        """Replace the stored task; `NotFound` for an unknown id, `Conflict` for a taken name."""
        params = params_of(task)
        with _name_is_unique(task):
            changed = await self._db.run(lambda session: session.execute(_UPDATE, params), transaction=False)
        if not changed:
            raise NotFound("task", task.id)
        return task

    async def page(self, query: TaskQuery) -> Page[Task]:
        """Tasks matching `query`, by id ascending (one statement)."""
        sql, params = task_listing(query, POSTGRES)
        async with self._db.session() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([task_of(row) for row in rows], query.limit)

    async def dependency_graph(self) -> Mapping[int, Collection[int]]:
        """Every task id, archived included, mapped to the ids it depends on."""
        async with self._db.session() as session:
            rows = await session.fetch_all("SELECT id, dependencies FROM tasks")
        return {row["id"]: dependencies_of(row["dependencies"]) for row in rows}

    async def downstream(self, task_id: int) -> list[Task]:
        """The task and every task downstream of it, by id (one statement); `NotFound` if unknown."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_DOWNSTREAM, {"id": task_id})
        if not rows:
            raise NotFound("task", task_id)
        return [task_of(row) for row in rows]

    async def due(self, now: datetime, limit: int) -> Sequence[Task]:
        """Active scheduled tasks whose next fire is at or before `now`, earliest first."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_DUE, {"now": aware(now), "limit": limit})
        return [task_of(row) for row in rows]

    async def record_fires(
        self, task: Task, runs: Sequence[TaskRun], next_run_at: datetime | None
    ) -> list[TaskRun]:
        """Create the runs of `task`'s due fires and advance it, if no one else did first."""
        return await self.record_fire_batch([FireRecord(task=task, runs=runs, next_run_at=next_run_at)])

    async def record_fire_batch(self, plans: Sequence[FireRecord]) -> list[TaskRun]:
        """Every plan in one transaction of two statements, however many tasks it holds.

        One conditional UPDATE ... FROM (VALUES ...) decides which tasks this dispatcher owns
        (those whose `next_run_at` is still the one it read), then one INSERT stores the runs of
        exactly those. A fire that already has its run is skipped by the unique index on fires.
        """
        if not plans:
            return []
        values: list[Any] = []
        for plan in plans:
            runs = plan.runs
            last = aware(runs[-1].scheduled_for) if runs else None
            values += [plan.task.id, aware(plan.task.next_run_at), aware(plan.next_run_at), bool(runs), last]
        rows_sql = ", ".join(
            ["(%s::bigint, %s::timestamptz, %s::timestamptz, %s::boolean, %s::timestamptz)"] * len(plans)
        )

        async def fire(session: Session) -> list[TaskRun]:
            advanced = await session.fetch_all(_ADVANCE_MANY.format(rows=rows_sql), values)
            owned = {row["id"] for row in advanced}
            runs = [run for plan in plans if plan.task.id in owned for run in plan.runs]
            return await insert_runs(session, runs) if runs else []

        return await self._db.run(fire)

    async def count_by_status(self) -> dict[TaskStatus, int]:
        """How many tasks are in each status (0 when none), in one statement."""
        async with self._db.session() as session:
            rows = await session.fetch_all(_COUNT_BY_STATUS)
        return dict.fromkeys(TaskStatus, 0) | {TaskStatus(row["status"]): row["count"] for row in rows}


@contextlib.contextmanager
def _name_is_unique(task: Task) -> Iterator[None]:
    """Turns the violation of the unique active name into a `Conflict` that names the task."""
    try:
        yield
    except Conflict as exc:
        raise Conflict(f"a task named {task.name!r} already exists") from exc
