"""The state of the whole scheduler, read from the store: what the metrics' gauges show."""

from __future__ import annotations

from msgspec import Struct

from scheduler_domain import (
    RunStatus,
    TaskRepository,
    TaskRunRepository,
    TaskStatus,
    WorkerRepository,
    WorkerStatus,
)

#: The statuses a run passes through before it ends: few runs each, counted through an index.
#: Ended runs are counted as they end (see `scheduler_observability.run_metrics`), not by
#: counting the history at every scrape.
UNFINISHED = (RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING)


class SystemState(Struct, frozen=True, kw_only=True):
    """Counts across the cluster at one moment; every status is present, 0 when none."""

    runs: dict[RunStatus, int]
    """Unfinished runs by status (`UNFINISHED`)."""
    tasks: dict[TaskStatus, int]
    workers: dict[WorkerStatus, int]
    slots: int
    """Runs the online workers can hold at once (their `max_concurrent_tasks`, added up)."""
    busy_slots: int
    """Runs the online workers held at their last heartbeats."""


class SystemOverview:
    """Reads the current `SystemState` in three short statements."""

    def __init__(self, *, tasks: TaskRepository, runs: TaskRunRepository, workers: WorkerRepository) -> None:
        self._tasks = tasks
        self._runs = runs
        self._workers = workers

    async def current(self) -> SystemState:
        """The state now."""
        runs = await self._runs.count_by_status(UNFINISHED)
        tasks = await self._tasks.count_by_status()
        workers = await self._workers.all()
        online = [worker for worker in workers if worker.status is WorkerStatus.ONLINE]
        return SystemState(
            runs={status: runs.get(status, 0) for status in UNFINISHED},
            tasks={status: tasks.get(status, 0) for status in TaskStatus},
            workers={status: sum(w.status is status for w in workers) for status in WorkerStatus},
            slots=sum(worker.max_concurrent_tasks for worker in online),
            busy_slots=sum(worker.current_task_count for worker in online),
        )
