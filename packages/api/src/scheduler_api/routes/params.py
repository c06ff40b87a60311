"""Typed parameters shared by the route handlers: query parameters of listings, use cases to inject."""

from __future__ import annotations

from typing import Annotated

from litestar.di import NamedDependency
from litestar.params import QueryParameter

from scheduler_application import AccessControl, AuditTrail, RunControl, TaskControl, WorkerRegistry
from scheduler_domain import MAX_LIMIT

#: How many items a page holds at most.
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_LIMIT, description=f"page size, 1 to {MAX_LIMIT}")]

#: The `next_cursor` of the previous page.
Cursor = Annotated[str | None, QueryParameter(description="the next_cursor of the previous page")]

#: The use cases, injected by name.
Tasks = NamedDependency[TaskControl]
Runs = NamedDependency[RunControl]
Access = NamedDependency[AccessControl]
Workers = NamedDependency[WorkerRegistry]
Audit = NamedDependency[AuditTrail]
