"""A fake of the WorkerPresence port that records calls and can be told to fail."""

from __future__ import annotations

from scheduler_domain import WorkerInfo, WorkerStatus
from scheduler_errors import NotFound


class FakeWorkerPresence:
    """Workers known to a pretend API; `fail_with` makes the next calls raise."""

    def __init__(self) -> None:
        self.workers: dict[str, WorkerInfo] = {}
        self.beats: list[tuple[str, int, WorkerStatus | None]] = []
        self.registrations = 0
        self.fail_with: Exception | None = None

    async def register(self, worker: WorkerInfo) -> WorkerInfo:
        """Record the worker."""
        self._maybe_fail()
        self.registrations += 1
        self.workers[worker.id] = worker
        return worker

    async def heartbeat(
        self, worker_id: str, *, current_task_count: int, status: WorkerStatus | None = None
    ) -> None:
        """Record a beat; `NotFound` for a worker not registered."""
        self._maybe_fail()
        if worker_id not in self.workers:
            raise NotFound("worker", worker_id)
        self.beats.append((worker_id, current_task_count, status))

    async def deregister(self, worker_id: str) -> None:
        """Forget the worker."""
        self._maybe_fail()
        self.workers.pop(worker_id, None)

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with
