"""`/api/v1/runs`: follow and cancel runs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter

from scheduler_api import mapping
from scheduler_api.audit import audited
from scheduler_api.auth import requires, sees_secrets
from scheduler_api.openapi import problems
from scheduler_api.routes.params import Cursor, Limit, Runs
from scheduler_api.schemas import PageOut, RunOut
from scheduler_domain import DEFAULT_LIMIT, Permission, RunStatus

Since = Annotated[
    datetime | None,
    QueryParameter(description="only runs created at or after this ISO 8601 moment (UTC without an offset)"),
]


class RunRoutes(Controller):
    """Runs."""

    path = "/runs"
    tags = ["runs"]

    @get(opt=requires(Permission.TASK_READ), responses=problems())
    async def list_runs(
        self,
        *,
        request: Request[Any, Any, Any],
        runs: Runs,
        task_id: FromQuery[int | None] = None,
        status: FromQuery[RunStatus | None] = None,
        worker_id: FromQuery[str | None] = None,
        since: Since = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[RunOut]:
        """List runs, newest first, filtered."""
        query = mapping.run_query(
            task_id=task_id, status=status, worker_id=worker_id, since=since, limit=limit, cursor=cursor
        )
        return mapping.run_page(await runs.page(query), masked=not sees_secrets(request))

    @get("/{run_id:int}", opt=requires(Permission.TASK_READ), responses=problems(404))
    async def get_run(self, request: Request[Any, Any, Any], run_id: FromPath[int], runs: Runs) -> RunOut:
        """One run (the secrets of its arguments masked for a caller that may not write tasks)."""
        return mapping.run_out(await runs.get(run_id), masked=not sees_secrets(request))

    @post(
        "/{run_id:int}/cancel",
        status_code=202,
        opt=requires(Permission.TASK_EXECUTE) | audited("run.cancel", id_param="run_id"),
        responses=problems(404, 409),
    )
    async def cancel_run(self, run_id: FromPath[int], runs: Runs) -> RunOut:
        """Stop a run: at once if it has not started, through its worker if it is running.

        409 when the run has already ended.
        """
        return mapping.run_out(await runs.cancel(run_id))
