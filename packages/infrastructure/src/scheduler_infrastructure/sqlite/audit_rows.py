"""Audit entries <-> rows of the `audit_log` table."""

from __future__ import annotations

from typing import Any

from scheduler_domain import AuditEntry
from scheduler_infrastructure.sqlite.columns import from_json, from_micros, to_json, to_micros
from scheduler_infrastructure.sqlite.database import Row

#: Every column but `id`, in the order of the INSERT.
COLUMNS = ("actor", "action", "resource", "at", "source_ip", "outcome", "detail")


def params_of(entry: AuditEntry) -> dict[str, Any]:
    """The named parameters (`:column`) that store `entry`."""
    return {
        "actor": entry.actor,
        "action": entry.action,
        "resource": entry.resource,
        "at": to_micros(entry.at),
        "source_ip": entry.source_ip,
        "outcome": entry.outcome,
        "detail": to_json(entry.detail),
    }


def entry_of(row: Row) -> AuditEntry:
    """The entry a row stores."""
    at = from_micros(row["at"])
    if at is None:
        raise ValueError(f"audit entry {row['id']} has no time")
    return AuditEntry(
        id=row["id"],
        actor=row["actor"],
        action=row["action"],
        resource=row["resource"],
        at=at,
        source_ip=row["source_ip"],
        outcome=row["outcome"],
        detail=from_json(row["detail"], dict[str, Any]),
    )
