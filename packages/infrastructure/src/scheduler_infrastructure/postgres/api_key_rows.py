"""API keys <-> rows of the `api_keys` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import ApiKey, Role
from scheduler_infrastructure.postgres.columns import aware
from scheduler_infrastructure.postgres.database import Row

#: Every column but `id`, in the order of the INSERT.
COLUMNS = ("name", "role", "key_hash", "created_at", "expires_at", "revoked_at", "last_used_at")


def params_of(key: ApiKey) -> dict[str, Any]:
    """The named parameters (`%(column)s`) that store `key`, its id included."""
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role.value,
        "key_hash": key.key_hash,
        "created_at": aware(key.created_at),
        "expires_at": aware(key.expires_at),
        "revoked_at": aware(key.revoked_at),
        "last_used_at": aware(key.last_used_at),
    }


def api_key_of(row: Row) -> ApiKey:
    """The key a row stores."""
    return ApiKey(
        id=row["id"],
        name=row["name"],
        role=Role(row["role"]),
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
    )
