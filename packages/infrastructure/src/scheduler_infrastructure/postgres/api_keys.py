"""API keys in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import msgspec

from scheduler_domain import ApiKey
from scheduler_errors import Conflict, NotFound
from scheduler_infrastructure.postgres.api_key_rows import COLUMNS, api_key_of, params_of
from scheduler_infrastructure.postgres.columns import aware, insert_statement
from scheduler_infrastructure.postgres.database import PostgresDatabase

_INSERT = insert_statement("api_keys", COLUMNS) + " RETURNING id"
# A key revoked already keeps the time it was first revoked.
_REVOKE = "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, %(now)s) WHERE id = %(id)s"


class PostgresApiKeyRepository:
    """The `ApiKeyRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; `Conflict` when a key with the same hash exists."""
        params = params_of(key)
        try:
            row = await self._db.run(lambda session: session.fetch_one(_INSERT, params), transaction=False)
        except Conflict as exc:
            raise Conflict("an API key with this secret already exists") from exc
        if row is None:
            raise RuntimeError("INSERT stored no API key")
        return msgspec.structs.replace(key, id=row["id"])

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `key_hash`, revoked or not, or None."""
        async with self._db.session() as session:
            row = await session.fetch_one(
                "SELECT * FROM api_keys WHERE key_hash = %(hash)s", {"hash": key_hash}
            )
        return None if row is None else api_key_of(row)

    async def all(self) -> list[ApiKey]:
        """Every key, by id."""
        async with self._db.session() as session:
            rows = await session.fetch_all("SELECT * FROM api_keys ORDER BY id")
        return [api_key_of(row) for row in rows]

    async def revoke(self, key_id: int, now: datetime) -> None:
        """Mark the key revoked at `now` (unless revoked already); `NotFound` for an unknown id."""
        params = {"now": aware(now), "id": key_id}
        changed = await self._db.run(lambda session: session.execute(_REVOKE, params), transaction=False)
        if not changed:
            raise NotFound("api key", key_id)

    async def count(self) -> int:
        """How many keys exist, revoked included."""
        async with self._db.session() as session:
            row = await session.fetch_one("SELECT count(*) AS keys FROM api_keys")
        return int(row["keys"]) if row is not None else 0
