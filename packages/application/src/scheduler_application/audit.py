"""The audit trail: who changed what, when, and from where."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scheduler_domain import AuditEntry, AuditLogRepository, AuditQuery, Page, check_limit, storable_text
from scheduler_foundation import Clock


class PendingAudit:
    """An audit entry that a use case may store in the same statement as its write.

    The API offers one to a use case that can store it so (a manual trigger on PostgreSQL: one
    commit rather than two, and never a write without its entry); `recorded` then tells the API
    whether it went in, or is still to store.
    """

    __slots__ = ("entry", "recorded")

    def __init__(self, entry: AuditEntry) -> None:
        self.entry = entry
        self.recorded = False


class AuditTrail:
    """Records writes and lists them, newest first."""

    def __init__(self, *, log: AuditLogRepository, clock: Clock) -> None:
        self._log = log
        self._clock = clock

    async def record(
        self,
        actor: str,
        action: str,
        resource: str,
        *,
        source_ip: str | None,
        outcome: int,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Store that `actor` did `action` on `resource` now; `outcome` is the HTTP status answered.

        `detail` must stay small and free of secrets: the caller chooses what goes in it. A NUL
        character in `resource` (which comes from the request's path) is kept as U+FFFD.
        """
        pending = self.pending(actor, action, resource, source_ip=source_ip, outcome=outcome, detail=detail)
        return await self._log.record(pending.entry)

    def pending(
        self,
        actor: str,
        action: str,
        resource: str,
        *,
        source_ip: str | None,
        outcome: int,
        detail: Mapping[str, Any] | None = None,
    ) -> PendingAudit:
        """The entry `record` would store now, for a use case to store with its write instead."""
        entry = AuditEntry(
            actor=actor,
            action=action,
            resource=storable_text(resource),  # an entry for `/workers/a%00b` is kept all the same
            at=self._clock.now(),
            source_ip=source_ip,
            outcome=outcome,
            detail=dict(detail or {}),
        )
        return PendingAudit(entry)

    async def page(self, query: AuditQuery) -> Page[AuditEntry]:
        """One page of entries matching `query`, newest first; `InvalidInput` for a bad limit."""
        check_limit(query.limit)
        return await self._log.page(query)
