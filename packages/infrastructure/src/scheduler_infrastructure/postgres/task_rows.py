"""Tasks <-> rows of the `tasks` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import MisfirePolicy, Priority, Task, TaskStatus, TaskType
from scheduler_infrastructure.postgres.columns import aware, from_json, jsonb
from scheduler_infrastructure.postgres.database import Row
from scheduler_infrastructure.sql.tables import TASK_COLUMNS

COLUMNS = TASK_COLUMNS


def params_of(task: Task) -> dict[str, Any]:
    """The named parameters (`%(column)s`) that store `task`, its id included."""
    return {
        "id": task.id,
        "name": task.name,
        "name_folded": task.name.lower(),
        "command": task.command,
        "task_type": task.task_type.value,
        "executor": task.executor,
        "description": task.description,
        "arguments": jsonb(task.arguments),
        "schedule": task.schedule,
        "timezone": task.timezone,
        "misfire_policy": task.misfire_policy.value,
        "priority": task.priority.value,
        "status": task.status.value,
        "max_retries": task.max_retries,
        "retry_backoff_seconds": task.retry_backoff_seconds,
        "timeout_seconds": task.timeout_seconds,
        "dependencies": jsonb(task.dependencies),
        "tags": jsonb(task.tags),
        "metadata": jsonb(task.metadata),
        "created_at": aware(task.created_at),
        "updated_at": aware(task.updated_at),
        "last_run_at": aware(task.last_run_at),
        "next_run_at": aware(task.next_run_at),
    }


def task_of(row: Row) -> Task:
    """The task a row stores."""
    return Task(
        id=row["id"],
        name=row["name"],
        command=row["command"],
        task_type=TaskType(row["task_type"]),
        executor=row["executor"],
        description=row["description"],
        arguments=from_json(row["arguments"], dict[str, Any]),
        schedule=row["schedule"],
        timezone=row["timezone"],
        misfire_policy=MisfirePolicy(row["misfire_policy"]),
        priority=Priority(row["priority"]),
        status=TaskStatus(row["status"]),
        max_retries=row["max_retries"],
        retry_backoff_seconds=row["retry_backoff_seconds"],
        timeout_seconds=row["timeout_seconds"],
        dependencies=dependencies_of(row["dependencies"]),
        tags=from_json(row["tags"], tuple[str, ...]),
        metadata=from_json(row["metadata"], dict[str, Any]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_run_at=row["last_run_at"],
        next_run_at=row["next_run_at"],
    )


def dependencies_of(text: str | bytes) -> tuple[int, ...]:
    """The dependency ids stored in a `dependencies` column."""
    return from_json(text, tuple[int, ...])
