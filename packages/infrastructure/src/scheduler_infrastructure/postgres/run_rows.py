"""Runs <-> rows of the `task_runs` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import Priority, RunStatus, TaskRun, TaskType, Trigger
from scheduler_infrastructure.postgres.columns import aware, from_json_or_none, jsonb_or_none
from scheduler_infrastructure.postgres.database import Row
from scheduler_infrastructure.sql.tables import RUN_COLUMNS

COLUMNS = RUN_COLUMNS


def params_of(run: TaskRun) -> dict[str, Any]:
    """The named parameters (`%(column)s`) that store `run`, its id included."""
    return {
        "id": run.id,
        "task_id": run.task_id,
        "attempt": run.attempt,
        "status": run.status.value,
        "trigger": run.trigger.value,
        "task_type": run.task_type.value,
        "priority": run.priority.value,
        "priority_rank": run.priority.rank,
        "timeout_seconds": run.timeout_seconds,
        "arguments": jsonb_or_none(run.arguments),
        "idempotency_key": run.idempotency_key,
        "worker_id": run.worker_id,
        "scheduled_for": aware(run.scheduled_for),
        "queued_at": aware(run.queued_at),
        "started_at": aware(run.started_at),
        "completed_at": aware(run.completed_at),
        "cancel_requested_at": aware(run.cancel_requested_at),
        "result": jsonb_or_none(run.result),
        "error_message": run.error_message,
        "exit_code": run.exit_code,
        "retry_count": run.retry_count,
        "created_at": aware(run.created_at),
        "updated_at": aware(run.updated_at),
        "wave_id": run.wave_id,
        "waiting": run.waiting,
        "traceparent": run.traceparent,
    }


def run_of(row: Row) -> TaskRun:
    """The run a row stores."""
    return TaskRun(
        id=row["id"],
        task_id=row["task_id"],
        attempt=row["attempt"],
        status=RunStatus(row["status"]),
        trigger=Trigger(row["trigger"]),
        task_type=TaskType(row["task_type"]),
        priority=Priority(row["priority"]),
        timeout_seconds=row["timeout_seconds"],
        arguments=from_json_or_none(row["arguments"], dict[str, Any]),
        idempotency_key=row["idempotency_key"],
        worker_id=row["worker_id"],
        scheduled_for=row["scheduled_for"],
        queued_at=row["queued_at"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        cancel_requested_at=row["cancel_requested_at"],
        result=from_json_or_none(row["result"], dict[str, Any]),
        error_message=row["error_message"],
        exit_code=row["exit_code"],
        retry_count=row["retry_count"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        wave_id=row["wave_id"],
        waiting=row["waiting"],
        traceparent=row["traceparent"],
    )
