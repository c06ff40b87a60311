"""Leases in PostgreSQL: one conditional upsert per acquire or renewal, judged by the server's clock."""

from __future__ import annotations

from datetime import timedelta

from scheduler_infrastructure.postgres.database import PostgresDatabase

#: Insert the lease, or take it over when it is ours already or has expired; a valid lease of
#: another holder makes the WHERE false, so nothing is written and no row comes back. Concurrent
#: callers serialise on the row, and the second sees the first's write.
_ACQUIRE = """
INSERT INTO leases AS lease (name, holder, expires_at)
VALUES (%(name)s, %(holder)s, now() + %(ttl)s)
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE lease.holder = excluded.holder OR lease.expires_at <= now()
"""
_RELEASE = "DELETE FROM leases WHERE name = %(name)s AND holder = %(holder)s"
_HOLDER = "SELECT holder FROM leases WHERE name = %(name)s AND expires_at > now()"


class PostgresLeaseRepository:
    """The `LeaseRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def try_acquire(self, name: str, holder: str, ttl: timedelta) -> bool:
        """Take or renew the lease until `ttl` after the server's now; False while another holds it."""
        params = {"name": name, "holder": holder, "ttl": ttl}
        changed = await self._db.run(lambda session: session.execute(_ACQUIRE, params), transaction=False)
        return changed == 1

    async def release(self, name: str, holder: str) -> None:
        """Delete the lease if `holder` holds it."""
        params = {"name": name, "holder": holder}
        await self._db.run(lambda session: session.execute(_RELEASE, params), transaction=False)

    async def holder(self, name: str) -> str | None:
        """The holder of the valid lease `name`, or None."""
        async with self._db.session() as session:
            row = await session.fetch_one(_HOLDER, {"name": name})
        return None if row is None else str(row["holder"])
