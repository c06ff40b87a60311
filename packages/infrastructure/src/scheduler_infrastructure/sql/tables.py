"""The columns of the tables both backends share, in the order of their INSERTs (all but `id`)."""

from __future__ import annotations

#: The columns of `tasks` but `id`.
TASK_COLUMNS = (
    "name",
    "name_folded",
    "command",
    "task_type",
    "executor",
    "description",
    "arguments",
    "schedule",
    "timezone",
    "misfire_policy",
    "priority",
    "status",
    "max_retries",
    "retry_backoff_seconds",
    "timeout_seconds",
    "dependencies",
    "tags",
    "metadata",
    "created_at",
    "updated_at",
    "last_run_at",
    "next_run_at",
)

#: The columns of `task_runs` but `id`.
RUN_COLUMNS = (
    "task_id",
    "attempt",
    "status",
    "trigger",
    "task_type",
    "priority",
    "priority_rank",
    "timeout_seconds",
    "arguments",
    "idempotency_key",
    "worker_id",
    "scheduled_for",
    "queued_at",
    "started_at",
    "completed_at",
    "cancel_requested_at",
    "result",
    "error_message",
    "exit_code",
    "retry_count",
    "created_at",
    "updated_at",
    "wave_id",
    "waiting",
    "traceparent",
)

#: The columns of `workers` but `id`.
WORKER_COLUMNS = (
    "id",
    "hostname",
    "ip_address",
    "port",
    "task_types",
    "max_concurrent_tasks",
    "current_task_count",
    "status",
    "last_heartbeat",
    "registered_at",
    "metadata",
    "registered_by",
)
