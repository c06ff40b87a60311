"""Leases in SQLite: one conditional upsert per acquire or renewal, judged by SQLite's clock."""

from __future__ import annotations

from datetime import timedelta

from scheduler_infrastructure.sqlite.columns import seconds_to_micros
from scheduler_infrastructure.sqlite.database import SqliteDatabase

#: SQLite's current time in microseconds since the epoch (julianday counts days from 4714 BC).
_NOW = "CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)"
_ACQUIRE = f"""
INSERT INTO leases (name, holder, expires_at)
VALUES (?, ?, {_NOW} + ?)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE leases.holder = excluded.holder OR leases.expires_at <= {_NOW}
"""  # noqa: S608 - no value is formatted in, only the expression of the current time
_RELEASE = "DELETE FROM leases WHERE name = ? AND holder = ?"
_HOLDER = f"SELECT holder FROM leases WHERE name = ? AND expires_at > {_NOW}"  # noqa: S608 - as above


class SqliteLeaseRepository:
    """The `LeaseRepository` port on SQLite (processes sharing the file agree through its write lock)."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease until `ttl` from now; False while another holds it."""
        async with self._db.transaction() as session:
            changed = await session.execute(_ACQUIRE, (name, holder, seconds_to_micros(ttl.total_seconds())))
        return changed == 1

    async def release(self, name: str, holder: str) -> None:
        """Delete the lease if `holder` holds it."""
        async with self._db.transaction() as session:
            await session.execute(_RELEASE, (name, holder))

    async def holder(self, name: str) -> str | None:
        """The holder of the valid lease `name`, or None."""
        async with self._db.reading() as session:
            row = await session.fetch_one(_HOLDER, (name,))
        return None if row is None else str(row["holder"])
