"""The audit log in SQLite."""

from __future__ import annotations

import msgspec

from scheduler_domain import AuditEntry, AuditQuery, Page
from scheduler_infrastructure.sql import audit_listing, page_of
from scheduler_infrastructure.sqlite.audit_rows import COLUMNS, entry_of, params_of
from scheduler_infrastructure.sqlite.columns import SQLITE, insert_statement
from scheduler_infrastructure.sqlite.database import SqliteDatabase

_INSERT = insert_statement("audit_log", COLUMNS)


class SqliteAuditLogRepository:
    """The `AuditLogRepository` port on SQLite."""

    def __init__(self, *, db: SqliteDatabase) -> None:
        self._db = db

    async def record(self, entry: AuditEntry) -> AuditEntry:
        """Store an entry; returns it with its id."""
        async with self._db.transaction() as session:
            entry_id = await session.insert(_INSERT, params_of(entry))
        return msgspec.structs.replace(entry, id=entry_id)

    async def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """Entries matching `query`, newest (highest id) first."""
        sql, params = audit_listing(query, SQLITE)
        async with self._db.reading() as session:
            rows = await session.fetch_all(sql, params)
        return page_of([entry_of(row) for row in rows], query.limit)
