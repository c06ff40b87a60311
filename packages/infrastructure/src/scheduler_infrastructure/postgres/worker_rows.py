"""Workers <-> rows of the `workers` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import TaskType, WorkerInfo, WorkerStatus
from scheduler_infrastructure.postgres.columns import aware, from_json, jsonb
from scheduler_infrastructure.postgres.database import Row
from scheduler_infrastructure.sql.tables import WORKER_COLUMNS

COLUMNS = WORKER_COLUMNS


def params_of(worker: WorkerInfo) -> dict[str, Any]:
    """The named parameters (`%(column)s`) that store `worker`."""
    return {
        "id": worker.id,
        "hostname": worker.hostname,
        "ip_address": worker.ip_address,
        "port": worker.port,
        "task_types": jsonb(worker.task_types),
        "max_concurrent_tasks": worker.max_concurrent_tasks,
        "current_task_count": worker.current_task_count,
        "status": worker.status.value,
        "last_heartbeat": aware(worker.last_heartbeat),
        "registered_at": aware(worker.registered_at),
        "metadata": jsonb(worker.metadata),
        "registered_by": worker.registered_by,
    }


def worker_of(row: Row) -> WorkerInfo:
    """The worker a row stores (INET comes back as an `ipaddress` object)."""
    return WorkerInfo(
        id=row["id"],
        hostname=row["hostname"],
        ip_address=str(row["ip_address"]),
        port=row["port"],
        task_types=from_json(row["task_types"], tuple[TaskType, ...]),
        max_concurrent_tasks=row["max_concurrent_tasks"],
        current_task_count=row["current_task_count"],
        status=WorkerStatus(row["status"]),
        last_heartbeat=row["last_heartbeat"],
        registered_at=row["registered_at"],
        metadata=from_json(row["metadata"], dict[str, Any]),
        registered_by=row["registered_by"],
    )
