"""API keys in SQLite."""

from __future__ import annotations

from datetime import datetime

import msgspec

from scheduler_domain import ApiKey
from scheduler_errors import Conflict, NotFound
from scheduler_infrastructure.sqlite.api_key_rows import COLUMNS, api_key_of, params_of
from scheduler_infrastructure.sqlite.columns import INTEGER_RANGE, insert_statement, to_micros
from scheduler_infrastructure.sqlite.database import SqliteDatabase

_INSERT = insert_statement("api_keys", COLUMNS)


class SqliteApiKeyRepository:
    """The `ApiKeyRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, key: ApiKey) -> ApiKey:
        """Store a new key; `Conflict` when a key with the same hash exists."""
        async with self._db.transaction() as session:
            if await session.fetch_one("SELECT 1 FROM api_keys WHERE key_hash = ?", (key.key_hash,)):
                raise Conflict("an API key with this secret already exists")
            key_id = await session.insert(_INSERT, params_of(key))
        return msgspec.structs.replace(key, id=key_id)

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key whose secret hashes to `key_hash`, revoked or not, or None."""
        async with self._db.reading() as session:
            row = await session.fetch_one("SELECT * FROM api_keys WHERE key_hash = ?", (key_hash,))
        return None if row is None else api_key_of(row)

    async def all(self) -> list[ApiKey]:
        """Every key, by id."""
        async with self._db.reading() as session:
            rows = await session.fetch_all("SELECT * FROM api_keys ORDER BY id")
        return [api_key_of(row) for row in rows]

    async def revoke(self, key_id: int, now: datetime) -> None:
        """Mark the key revoked at `now` (unless revoked already); `NotFound` for an unknown id."""
        if key_id not in INTEGER_RANGE:
            raise NotFound("api key", key_id)
        async with self._db.transaction() as session:
            changed = await session.execute(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
                (to_micros(now), key_id),
            )
        if not changed:
            raise NotFound("api key", key_id)

    async def count(self) -> int:
        """How many keys exist, revoked included."""
        async with self._db.reading() as session:
            row = await session.fetch_one("SELECT COUNT(*) FROM api_keys")
        return int(row[0]) if row is not None else 0
