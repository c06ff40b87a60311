"""How a worker process makes itself known to the scheduler (through the API, never the database)."""

from __future__ import annotations

from typing import Protocol

from scheduler_domain import WorkerInfo, WorkerStatus


class WorkerPresence(Protocol):
    """Registration, heartbeats and deregistration of one worker.

    Raises `Unauthenticated` / `PermissionDenied` for a credential the scheduler refuses (the
    worker must stop and say so), `NotFound` for a heartbeat of a worker the scheduler forgot
    (register again), and `Unavailable` when the scheduler does not answer (retry later).
    """

    async def register(self, worker: WorkerInfo) -> WorkerInfo:
        """Announce the worker; returns it as the scheduler recorded it."""
        ...

    async def heartbeat(
        self, worker_id: str, *, current_task_count: int, status: WorkerStatus | None = None
    ) -> None:
        """Say the worker is alive and how busy it is."""
        ...

    async def deregister(self, worker_id: str) -> None:
        """Say the worker is leaving."""
        ...
