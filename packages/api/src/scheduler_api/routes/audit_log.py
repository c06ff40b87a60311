"""`/api/v1/audit-log`: who wrote what through the API, when, and from where."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter

from scheduler_api import mapping
from scheduler_api.auth import requires
from scheduler_api.openapi import problems
from scheduler_api.routes.params import Audit, Cursor, Limit
from scheduler_api.schemas import AuditEntryOut, PageOut
from scheduler_domain import DEFAULT_LIMIT, Permission

Actor = Annotated[
    str | None, QueryParameter(description="only entries by this actor (exact), e.g. `apikey:3:ci`")
]
Resource = Annotated[
    str | None, QueryParameter(description="only entries on this resource (exact), e.g. `task:12`")
]


class AuditLogRoutes(Controller):
    """The audit log."""

    path = "/audit-log"
    tags = ["audit"]

    @get(opt=requires(Permission.SYSTEM_READ), responses=problems())
    async def list_audit_log(
        self,
        *,
        audit: Audit,
        actor: Actor = None,
        resource: Resource = None,
        limit: Limit = DEFAULT_LIMIT,
        cursor: Cursor = None,
    ) -> PageOut[AuditEntryOut]:
        """The writes made through the API, newest first, filtered."""
        query = mapping.audit_query(actor=actor, resource=resource, limit=limit, cursor=cursor)
        return mapping.audit_page(await audit.page(query))
