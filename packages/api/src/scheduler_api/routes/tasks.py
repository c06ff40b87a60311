"""`/api/v1/tasks`: create, list, read, edit, pause, resume, archive and trigger tasks."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter

from scheduler_api import mapping
from scheduler_api.audit import audited, pending_audit
from scheduler_api.auth import requires, sees_secrets
from scheduler_api.openapi import problems
from scheduler_api.routes.params import Cursor, Limit, Runs, Tasks
from scheduler_api.schemas import PageOut, RunOut, TaskCreate, TaskOut, TaskPatch, TriggerIn
from scheduler_domain import DEFAULT_LIMIT, Permission, TaskStatus, TaskType

NamePart = Annotated[str | None, QueryParameter(description="part of the name, in any case")]


class TaskRoutes(Controller):
    """Tasks."""

    path = "/tasks"
    tags = ["tasks"]

    @post(
        opt=requires(Permission.TASK_WRITE) | audited("task.create", response_detail={"name": "name"}),
        responses=problems(409),
    )
    async def create_task(self, data: JSONBody[TaskCreate], tasks: Tasks) -> TaskOut:
        """Create a task."""
        return mapping.task_out(await tasks.create(mapping.task_draft(data)))

    @get(opt=requires(Permission.TASK_READ), responses=problems())
    async def list_tasks(
        self,
        *,
        request: Request[Any, Any, Any],
        tasks: Tasks,
        status: FromQuery[TaskStatus | None] = None,
        task_type: FromQuery[TaskType | None] = None,
        tag: FromQuery[str | None] = None,
        name: NamePart = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[TaskOut]:
        """List tasks by id, filtered."""
        query = mapping.task_query(
            status=status, task_type=task_type, tag=tag, name=name, limit=limit, cursor=cursor
        )
        return mapping.task_page(await tasks.page(query), masked=not sees_secrets(request))

    @get("/{task_id:int}", opt=requires(Permission.TASK_READ), responses=problems(404))
    async def get_task(
        self, request: Request[Any, Any, Any], task_id: FromPath[int], tasks: Tasks
    ) -> TaskOut:
        """One task (its secrets masked for a caller that may not write tasks)."""
        return mapping.task_out(await tasks.get(task_id), masked=not sees_secrets(request))

    @patch(
        "/{task_id:int}",
        opt=requires(Permission.TASK_WRITE)
        | audited("task.update", id_param="task_id", body_fields=TaskPatch.__struct_fields__),
        responses=problems(404, 409),
    )
    async def update_task(self, task_id: FromPath[int], data: JSONBody[TaskPatch], tasks: Tasks) -> TaskOut:
        """Change some fields of a task; `"schedule": null` removes its schedule."""
        return mapping.task_out(await tasks.update(task_id, mapping.task_changes(data)))

    @delete(
        "/{task_id:int}",
        opt=requires(Permission.TASK_DELETE) | audited("task.archive", id_param="task_id"),
        responses=problems(404),
    )
    async def archive_task(self, task_id: FromPath[int], tasks: Tasks) -> None:
        """Archive a task: it never runs again; its runs stay in the history."""
        await tasks.archive(task_id)

    @post(
        "/{task_id:int}/pause",
        status_code=200,
        opt=requires(Permission.TASK_WRITE) | audited("task.pause", id_param="task_id"),
        responses=problems(404, 409),
    )
    async def pause_task(self, task_id: FromPath[int], tasks: Tasks) -> TaskOut:
        """Stop a task's schedule from firing."""
        return mapping.task_out(await tasks.pause(task_id))

    @post(
        "/{task_id:int}/resume",
        status_code=200,
        opt=requires(Permission.TASK_WRITE) | audited("task.resume", id_param="task_id"),
        responses=problems(404, 409),
    )
    async def resume_task(self, task_id: FromPath[int], tasks: Tasks) -> TaskOut:
        """Let a paused task's schedule fire again, from now on."""
        return mapping.task_out(await tasks.resume(task_id))

    @post(
        "/{task_id:int}/trigger",
        status_code=202,
        opt=requires(Permission.TASK_EXECUTE)
        | audited("task.trigger", id_param="task_id", response_detail={"run_id": "id"}),
        responses=problems(404, 409),
    )
    async def trigger_task(
        self,
        request: Request[Any, Any, Any],
        task_id: FromPath[int],
        tasks: Tasks,
        data: JSONBody[TriggerIn | None] = None,
    ) -> RunOut:
        """Run a task now (the body is optional); the same `idempotency_key` returns the first run."""
        body = data or TriggerIn()
        run = await tasks.trigger(
            task_id,
            arguments=body.arguments,
            idempotency_key=body.idempotency_key,
            audit=pending_audit(request),
        )
        return mapping.run_out(run)

    @get("/{task_id:int}/runs", opt=requires(Permission.TASK_READ), responses=problems(404))
    async def list_task_runs(
        self,
        *,
        request: Request[Any, Any, Any],
        task_id: FromPath[int],
        tasks: Tasks,
        runs: Runs,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[RunOut]:
        """A task's runs, newest first (404 for an unknown task rather than an empty page)."""
        await tasks.get(task_id)
        query = mapping.run_query(
            task_id=task_id, status=None, worker_id=None, since=None, limit=limit, cursor=cursor
        )
        return mapping.run_page(await runs.page(query), masked=not sees_secrets(request))
