"""Audit entries <-> rows of the `audit_log` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import AuditEntry
from scheduler_infrastructure.postgres.columns import aware, from_json, jsonb
from scheduler_infrastructure.postgres.database import Row

#: Every column but `id`, in the order of the INSERT.
COLUMNS = ("actor", "action", "resource", "at", "source_ip", "outcome", "detail")


def params_of(entry: AuditEntry) -> dict[str, Any]:
    """The named parameters (`%(column)s`) that store `entry`."""
    return {
        "actor": entry.actor,
        "action": entry.action,
        "resource": entry.resource,
        "at": aware(entry.at),
        "source_ip": entry.source_ip,
        "outcome": entry.outcome,
        "detail": jsonb(entry.detail),
    }


def entry_of(row: Row) -> AuditEntry:
    """The entry a row stores."""
    return AuditEntry(
        id=row["id"],
        actor=row["actor"],
        action=row["action"],
        resource=row["resource"],
        at=row["at"],
        source_ip=row["source_ip"],
        outcome=row["outcome"],
        detail=from_json(row["detail"], dict[str, Any]),
    )
