"""Tasks <-> rows of the `tasks` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import MisfirePolicy, Priority, Task, TaskStatus, TaskType
from scheduler_infrastructure.sql.tables import TASK_COLUMNS
from scheduler_infrastructure.sqlite.columns import from_json, from_micros, to_json, to_micros
from scheduler_infrastructure.sqlite.database import Row

COLUMNS = TASK_COLUMNS


def params_of(task: Task) -> dict[str, Any]:
    """The named parameters (`:column`) that store `task`, its id included."""
    return {
        "id": task.id,
        "name": task.name,
        "name_folded": task.name.lower(),
        "command": task.command,
        "task_type": task.task_type.value,
        "executor": task.executor,
        "description": task.description,
        "arguments": to_json(task.arguments),
        "schedule": task.schedule,
        "timezone": task.timezone,
        "misfire_policy": task.misfire_policy.value,
        "priority": task.priority.value,
        "status": task.status.value,
        "max_retries": task.max_retries,
        "retry_backoff_seconds": task.retry_backoff_seconds,
        "timeout_seconds": task.timeout_seconds,
        "dependencies": to_json(task.dependencies),
        "tags": to_json(task.tags),
        "metadata": to_json(task.metadata),
        "created_at": to_micros(task.created_at),
        "updated_at": to_micros(task.updated_at),
        "last_run_at": to_micros(task.last_run_at),
        "next_run_at": to_micros(task.next_run_at),
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
        created_at=from_micros(row["created_at"]),
        updated_at=from_micros(row["updated_at"]),
        last_run_at=from_micros(row["last_run_at"]),
        next_run_at=from_micros(row["next_run_at"]),
    )


def dependencies_of(text: str) -> tuple[int, ...]:
    """The dependency ids stored in a `dependencies` column."""
    return from_json(text, tuple[int, ...])
