"""The one-step store of manual runs (`scheduler_application.ManualRunStore`) in memory."""

from __future__ import annotations

import msgspec

from scheduler_domain import AuditEntry, TaskRun
from scheduler_testing.repositories import FakeAuditLogRepository, FakeTaskRepository, FakeTaskRunRepository


class FakeManualRunStore:
    """Stores a manual run with its task's fields, and its audit entry with it, as PostgreSQL's one
    statement does; `audited` counts the entries it stored so."""

    def __init__(
        self, *, tasks: FakeTaskRepository, runs: FakeTaskRunRepository, audit_log: FakeAuditLogRepository
    ) -> None:
        self._tasks = tasks
        self._runs = runs
        self._audit_log = audit_log
        self.audited = 0

    async def add_from_task(self, run: TaskRun, audit: AuditEntry | None = None) -> TaskRun | None:
        """See `ManualRunStore.add_from_task`: None, storing nothing, for a missing or archived
        task or an idempotency key taken already."""
        task = self._tasks.rows.get(run.task_id)
        taken = run.idempotency_key is not None and any(
            row.task_id == run.task_id and row.idempotency_key == run.idempotency_key
            for row in self._runs.rows.values()
        )
        if task is None or not task.accepts_runs() or taken:
            return None
        copied = msgspec.structs.replace(
            run, task_type=task.task_type, priority=task.priority, timeout_seconds=task.timeout_seconds
        )
        stored = await self._runs.add(copied)
        if audit is not None:
            await self._audit_log.record(
                msgspec.structs.replace(audit, detail={**audit.detail, "run_id": stored.id})
            )
            self.audited += 1
        return stored
