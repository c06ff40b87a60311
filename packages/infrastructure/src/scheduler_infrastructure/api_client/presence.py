"""`WorkerPresence` over the REST API: `/api/v1/workers` with a `worker`-role API key."""

from __future__ import annotations

from typing import Any

import httpx

from scheduler_domain import TaskType, WorkerInfo, WorkerStatus
from scheduler_errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    SchedulerError,
    Unauthenticated,
    Unavailable,
)


class HttpWorkerPresence:
    """Registers and heartbeats through the API; HTTP answers become the error kinds of the port."""

    def __init__(self, *, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def connect(cls, base_url: str, api_key: str, *, timeout: float = 5.0) -> HttpWorkerPresence:
        """A presence on the API at `base_url`, authenticated with `api_key`."""
        client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout
        )
        return cls(client=client)

    async def register(self, worker: WorkerInfo) -> WorkerInfo:
        """POST /api/v1/workers."""
        body = {
            "id": worker.id,
            "hostname": worker.hostname,
            "ip_address": worker.ip_address,
            "port": worker.port,
            "task_types": [task_type.value for task_type in worker.task_types],
            "max_concurrent_tasks": worker.max_concurrent_tasks,
            "metadata": worker.metadata,
        }
        answer = await self._call("POST", "/api/v1/workers", json=body, registering=True)
        return _worker_of(answer.json())

    async def heartbeat(
        self, worker_id: str, *, current_task_count: int, status: WorkerStatus | None = None
    ) -> None:
        """POST /api/v1/workers/{id}/heartbeat."""
        body: dict[str, Any] = {"current_task_count": current_task_count}
        if status is not None:
            body["status"] = status.value
        await self._call("POST", f"/api/v1/workers/{worker_id}/heartbeat", json=body)

    async def deregister(self, worker_id: str) -> None:
        """DELETE /api/v1/workers/{id}; a worker the API does not know is gone already."""
        try:
            await self._call("DELETE", f"/api/v1/workers/{worker_id}")
        except NotFound:
            return

    async def close(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    async def _call(
        self, method: str, path: str, *, registering: bool = False, **kwargs: Any
    ) -> httpx.Response:
        try:
            answer = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"the scheduler API at {self._client.base_url} does not answer ({exc!r})"
            ) from exc
        if answer.is_success:
            return answer
        raise _error_of(answer, f"{method} {path}", registering=registering)


def _error_of(answer: httpx.Response, request: str, *, registering: bool) -> SchedulerError:
    detail = _detail(answer)
    status = answer.status_code
    if status == 401:
        return Unauthenticated(
            f"the API refused the worker's key ({detail}): check SCHEDULER_WORKER__API_KEY"
        )
    if status == 403 and registering:
        return PermissionDenied(
            f"the worker's key may not register workers ({detail}): use a key with the worker role"
        )
    if status == 403:  # e.g. for a worker that another worker key registered
        return PermissionDenied(f"the API refused {request} ({detail})")
    if status == 404:
        return NotFound("worker", request)
    kind = Conflict if status == 409 else Unavailable if status >= 500 or status == 429 else SchedulerError
    return kind(f"the scheduler API answered {status} to {request} ({detail})")


def _detail(answer: httpx.Response) -> str:
    try:
        return str(answer.json().get("detail") or answer.reason_phrase)
    except ValueError:
        return answer.reason_phrase


def _worker_of(body: dict[str, Any]) -> WorkerInfo:
    return WorkerInfo(
        id=body["id"],
        hostname=body["hostname"],
        ip_address=body["ip_address"],
        port=body["port"],
        task_types=tuple(TaskType(value) for value in body["task_types"]),
        max_concurrent_tasks=body["max_concurrent_tasks"],
        current_task_count=body["current_task_count"],
        status=WorkerStatus(body["status"]),
        metadata=body.get("metadata") or {},
    )
