"""Worker registry: registration, heartbeats, deregistration."""

from __future__ import annotations

import msgspec

from scheduler_domain import (
    Page,
    Principal,
    Role,
    WorkerInfo,
    WorkerRepository,
    WorkerStatus,
    check_heartbeat_status,
    check_limit,
    check_registration,
    check_task_count,
    holds_nul,
    page_in_memory,
)
from scheduler_errors import Conflict, NotFound, PermissionDenied
from scheduler_foundation import Clock


class WorkerRegistry:
    """The use cases of workers announcing themselves."""

    def __init__(self, *, workers: WorkerRepository, clock: Clock) -> None:
        self._workers = workers
        self._clock = clock

    async def register(self, worker: WorkerInfo, *, by: Principal | None = None) -> WorkerInfo:
        """Record a worker as online, registered by `by` (re-registering replaces the old record).

        `Conflict` when a worker with that id is registered by another `worker` credential and
        is not offline: see `WorkerInfo.answers_to`.
        """
        check_registration(worker)
        now = self._clock.now()
        online = msgspec.structs.replace(
            worker,
            status=WorkerStatus.ONLINE,
            registered_at=now,
            last_heartbeat=now,
            current_task_count=0,
            registered_by=by.subject if by is not None else None,
        )
        if by is None or by.role is not Role.WORKER:  # operators and admins register over anyone
            return await self._workers.save(online)
        for _ in range(2):  # the holder may be forgotten between the refusal and the read
            if await self._workers.register(online):  # checked and stored in one step
                return online
            try:
                held = await self.get(worker.id)
            except NotFound:
                continue
            raise Conflict(
                f"worker {worker.id!r} is {held.status.value} under another worker key: stop it, or"
                " wait until the scheduler marks it offline, or register under another worker id"
            )
        raise Conflict(f"worker {worker.id!r} is being registered under another worker key at the same time")

    async def heartbeat(
        self,
        worker_id: str,
        *,
        current_task_count: int,
        status: WorkerStatus | None = None,
        by: Principal | None = None,
    ) -> WorkerInfo:
        """Record that the worker is alive; `PermissionDenied` when `by` may not beat for it."""
        check_task_count(current_task_count)
        check_heartbeat_status(status)
        worker = self._answering(await self.get(worker_id), by)
        beat = worker.heartbeat(self._clock.now(), current_task_count=current_task_count, status=status)
        return await self._workers.save(beat)

    async def deregister(self, worker_id: str, *, by: Principal | None = None) -> None:
        """Forget a worker that stopped; `PermissionDenied` when `by` may not deregister it."""
        self._answering(await self.get(worker_id), by)
        await self._workers.remove(worker_id)

    @staticmethod
    def _answering(worker: WorkerInfo, by: Principal | None) -> WorkerInfo:
        if not worker.answers_to(by):
            raise PermissionDenied(
                f"worker {worker.id!r} was registered with another worker key; a worker key acts"
                " only for the workers it registered"
            )
        return worker

    async def get(self, worker_id: str) -> WorkerInfo:
        """One worker."""
        _check_known(worker_id)
        return await self._workers.get(worker_id)

    async def page(self, *, limit: int, after: str | None = None) -> Page[WorkerInfo]:
        """One page of workers, by id; `InvalidInput` for a bad limit."""
        return page_in_memory(
            await self._workers.all(), key=lambda worker: worker.id, after=after, limit=check_limit(limit)
        )

    async def all(self) -> list[WorkerInfo]:
        """Every worker."""
        return await self._workers.all()


def _check_known(worker_id: str) -> None:
    """`NotFound` for an id no registration could have stored (see `check_storable`), before a
    store that cannot even compare it (PostgreSQL) is asked."""
    if holds_nul(worker_id):
        raise NotFound("worker", worker_id)


class LocalWorkerPresence:
    """The `WorkerPresence` of a worker inside the scheduler's own process (`standalone`): the
    registry itself, with no API in between, so that worker is listed and watched like any other."""

    def __init__(self, registry: WorkerRegistry) -> None:
        self._registry = registry

    async def register(self, worker: WorkerInfo) -> WorkerInfo:
        """Record the worker as online."""
        return await self._registry.register(worker)

    async def heartbeat(
        self, worker_id: str, *, current_task_count: int, status: WorkerStatus | None = None
    ) -> None:
        """Record that the worker is alive."""
        await self._registry.heartbeat(worker_id, current_task_count=current_task_count, status=status)

    async def deregister(self, worker_id: str) -> None:
        """Forget the worker."""
        await self._registry.deregister(worker_id)
