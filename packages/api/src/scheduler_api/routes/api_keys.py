"""`/api/v1/api-keys`: issue, list and revoke API keys."""

from __future__ import annotations

from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody

from scheduler_api import mapping
from scheduler_api.audit import audited
from scheduler_api.auth import requires
from scheduler_api.openapi import problems
from scheduler_api.routes.params import Access, Cursor, Limit
from scheduler_api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut, PageOut
from scheduler_domain import DEFAULT_LIMIT, Permission, decode_cursor


class ApiKeyRoutes(Controller):
    """API keys."""

    path = "/api-keys"
    tags = ["api-keys"]

    @post(
        opt=requires(Permission.SYSTEM_WRITE)
        | audited("api_key.create", response_detail={"name": "name", "role": "role"}),
        responses=problems(),
    )
    async def create_api_key(self, data: JSONBody[ApiKeyCreate], access: Access) -> ApiKeyCreated:
        """Issue a key; its secret is in this response only and cannot be read again."""
        issued = await access.issue(
            data.name, data.role, expires_at=mapping.as_utc(data.expires_at, field="expires_at")
        )
        return mapping.key_created(issued)

    @get(opt=requires(Permission.SYSTEM_READ), responses=problems())
    async def list_api_keys(
        self, access: Access, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
    ) -> PageOut[ApiKeyOut]:
        """Keys by id, revoked ones included, never a secret or a hash."""
        return mapping.key_page(await access.page_keys(limit=limit, after_id=decode_cursor(cursor)))

    @delete(
        "/{key_id:int}",
        opt=requires(Permission.SYSTEM_WRITE) | audited("api_key.revoke", id_param="key_id"),
        responses=problems(404),
    )
    async def revoke_api_key(self, key_id: FromPath[int], access: Access) -> None:
        """Revoke a key at once."""
        await access.revoke(key_id)
