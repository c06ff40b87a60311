"""`/api/v1/workers`: workers announce themselves, beat, and leave."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, JSONBody

from scheduler_api import mapping
from scheduler_api.audit import audited, not_audited
from scheduler_api.auth import principal_of, requires
from scheduler_api.openapi import problems
from scheduler_api.routes.params import Cursor, Limit, Workers
from scheduler_api.schemas import HeartbeatIn, PageOut, WorkerOut, WorkerRegisterIn
from scheduler_domain import DEFAULT_LIMIT, Permission, decode_key_cursor

HEARTBEATS_NOT_AUDITED = (
    "a liveness signal every few seconds from each worker: it changes no configuration, would"
    " drown the writes of people in the log, and the worker's last_heartbeat records it already"
)


class WorkerRoutes(Controller):
    """Workers."""

    path = "/workers"
    tags = ["workers"]

    @post(opt=requires(Permission.WORKER_WRITE) | audited("worker.register"), responses=problems(409))
    async def register_worker(
        self, request: Request[Any, Any, Any], data: JSONBody[WorkerRegisterIn], workers: Workers
    ) -> WorkerOut:
        """Register a worker (again: re-registering replaces the old record). 409 when a `worker`
        key registers an id that another worker key holds and that is not offline."""
        worker = await workers.register(mapping.worker_info(data), by=principal_of(request))
        return mapping.worker_out(worker)

    @post(
        "/{worker_id:str}/heartbeat",
        status_code=200,
        opt=requires(Permission.WORKER_WRITE) | not_audited(HEARTBEATS_NOT_AUDITED),
        responses=problems(404),
    )
    async def heartbeat(
        self,
        request: Request[Any, Any, Any],
        worker_id: FromPath[str],
        data: JSONBody[HeartbeatIn],
        workers: Workers,
    ) -> WorkerOut:
        """Record that a worker is alive and how busy it is (a `worker` key: only for the workers
        it registered)."""
        worker = await workers.heartbeat(
            worker_id,
            current_task_count=data.current_task_count,
            status=data.status,
            by=principal_of(request),
        )
        return mapping.worker_out(worker)

    @delete(
        "/{worker_id:str}",
        opt=requires(Permission.WORKER_WRITE) | audited("worker.deregister", id_param="worker_id"),
        responses=problems(404),
    )
    async def deregister_worker(
        self, request: Request[Any, Any, Any], worker_id: FromPath[str], workers: Workers
    ) -> None:
        """Forget a worker that stopped (a `worker` key: only one it registered)."""
        await workers.deregister(worker_id, by=principal_of(request))

    @get(opt=requires(Permission.WORKER_READ), responses=problems())
    async def list_workers(
        self, workers: Workers, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> PageOut[WorkerOut]:
        """Workers, by id."""
        return mapping.worker_page(await workers.page(limit=limit, after=decode_key_cursor(cursor)))

    @get("/{worker_id:str}", opt=requires(Permission.WORKER_READ), responses=problems(404))
    async def get_worker(self, worker_id: FromPath[str], workers: Workers) -> WorkerOut:
        """One worker."""
        return mapping.worker_out(await workers.get(worker_id))
