"""The audit log in PostgreSQL."""

from __future__ import annotations

import msgspec

from scheduler_domain import AuditEntry, AuditQuery, Page
from scheduler_infrastructure.postgres.audit_rows import COLUMNS, entry_of, params_of
from scheduler_infrastructure.postgres.columns import POSTGRES, insert_statement
from scheduler_infrastructure.postgres.database import PostgresDatabase
from scheduler_infrastructure.sql import audit_listing, page_of

_INSERT = insert_statement("audit_log", COLUMNS) + " RETURNING id"


class PostgresAuditLogRepository:
    """The `AuditLogRepository` port on PostgreSQL."""

    def __init__(self, *, db: PostgresDatabase) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> AuditEntry:
        """Store an entry; returns it with its id."""
        params = params_of(entry)
        row = await self._db.run(lambda session: session.fetch_one(_INSERT, params), transaction=False)
        if row is None:
            raise RuntimeError("INSERT stored no audit entry")
        return msgspec.structs.replace(entry, id=row["id"])

    async def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries matching `query`, newest (highest id) first (one statement)."""
        sql, params = audit_listing(query, POSTGRES)
        async with self._db.session() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([entry_of(row) for row in rows], query.limit)
