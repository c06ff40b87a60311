"""Recovery sweeps the leading dispatcher runs besides timeouts and requeues: lost workers, lost releases."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import msgspec

from scheduler_application.dependencies import DependencyRelease
from scheduler_application.runs import RunLifecycle
from scheduler_domain import (
    MAX_LIMIT,
    RunQuery,
    RunStatus,
    TaskRun,
    TaskRunRepository,
    WorkerInfo,
    WorkerRepository,
    WorkerStatus,
    decode_cursor,
)
from scheduler_errors import NotFound
from scheduler_foundation import Clock

logger = logging.getLogger(__name__)


class WorkerRecovery:
    """Ends the runs of workers that stopped heartbeating, so that no run is lost with its worker."""

    def __init__(
        self,
        *,
        workers: WorkerRepository,
        runs: TaskRunRepository,
        lifecycle: RunLifecycle,
        clock: Clock,
        worker_timeout: timedelta = timedelta(seconds=30),
        offline_retention: timedelta = timedelta(days=1),
    ) -> None:
        self._workers = workers
        self._runs = runs
        self._lifecycle = lifecycle
        self._clock = clock
        self._worker_timeout = worker_timeout
        self._offline_retention = offline_retention

    async def recover_lost_workers(self) -> list[TaskRun]:
        """Mark offline each worker silent for longer than the timeout; its running runs end `failed`.

        Each such run ends with the reason `worker_lost` and follows its task's retry policy.
        Returns the runs ended. The runs are ended before the worker is marked offline, so a sweep
        interrupted half-way is completed by the next one.

        A worker already offline may still report a start (it stalled past the timeout, then
        reported, then died before its next heartbeat would have brought it back online): such a
        run is ended too, once it has been running for a whole timeout with the worker offline.

        A worker offline and silent for longer than `offline_retention` is forgotten (a crashed
        worker is never deregistered, and each process of a worker has an id of its own), which
        also ends that watch over its runs: a start it reports after that waits for the run's
        own timeout.
        """
        now = self._clock.now()
        ended: list[TaskRun] = []
        offline: set[str] = set()
        for worker in await self._workers.all():
            if worker.is_lost(now, self._worker_timeout):
                ended += await self._end_runs_of(worker)
                # A heartbeat that lands after this brings the worker back online (see heartbeat()).
                await self._workers.save(worker.offline())
            elif worker.forgotten(now, self._offline_retention):
                await self._forget(worker)
            elif worker.status is WorkerStatus.OFFLINE:
                offline.add(worker.id)
        if offline:
            ended += await self._end_runs_started_while_offline(offline, now - self._worker_timeout)
        return ended

    async def _forget(self, worker: WorkerInfo) -> None:
        try:
            await self._workers.remove(worker.id)
        except NotFound:  # deregistered, or forgotten by another dispatcher, meanwhile
            return
        logger.info(
            "forgot a worker offline since its last heartbeat",
            extra={"worker_id": worker.id, "last_heartbeat": str(worker.last_heartbeat)},
        )

    async def _end_runs_started_while_offline(self, offline: set[str], before: datetime) -> list[TaskRun]:
        """End the running runs of `offline` workers started before `before` (listed first, then
        ended, so the listing's pages stay put)."""
        orphans: list[TaskRun] = []
        query = RunQuery(status=RunStatus.RUNNING, limit=MAX_LIMIT)
        while True:
            page = await self._runs.page(query)
            orphans += [
                run
                for run in page.items
                if run.worker_id in offline and run.started_at is not None and run.started_at < before
            ]
            if page.next_cursor is None:
                break
            query = msgspec.structs.replace(query, before_id=decode_cursor(page.next_cursor))
        return [run for run in [await self._lifecycle.worker_lost(run) for run in orphans] if run]

    async def _end_runs_of(self, worker: WorkerInfo) -> list[TaskRun]:
        ended: list[TaskRun] = []
        query = RunQuery(worker_id=worker.id, status=RunStatus.RUNNING, limit=MAX_LIMIT)
        while True:
            page = await self._runs.page(query)
            stored = [run for run in [await self._lifecycle.worker_lost(r) for r in page.items] if run]
            ended += stored
            # Ended runs leave the listing, so the next page is the first again; stop when none moved.
            if page.next_cursor is None or not stored:
                return ended


class WaveRecovery:
    """Settles dependency waves whose release was lost.

    A run's end and the release of the runs below it are separate writes: a process that dies
    between them leaves a downstream run waiting although its upstream runs have ended. This
    sweep finds runs waiting longer than `stale_after` and settles their waves again (settling
    is idempotent, so a wave that was only slow changes nothing).
    """

    def __init__(
        self,
        *,
        runs: TaskRunRepository,
        dependencies: DependencyRelease,
        clock: Clock,
        stale_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self._runs = runs
        self._dependencies = dependencies
        self._clock = clock
        self._stale_after = stale_after

    async def settle_stale_waves(self, limit: int = 100) -> list[TaskRun]:
        """Settle the waves of runs left waiting; returns the runs created, released or skipped."""
        stale = await self._runs.stale_waiting(self._clock.now() - self._stale_after, limit)
        changed: list[TaskRun] = []
        for wave_id in sorted({run.wave for run in stale}):
            for run in await self._runs.wave_runs(wave_id):
                if run.status.is_final:
                    changed += await self._dependencies.run_ended(run)
        return changed
