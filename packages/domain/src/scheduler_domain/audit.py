"""The audit log: who changed what, when, and from where."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import Struct


class AuditEntry(Struct, frozen=True, kw_only=True):
    """One write through the API. `id` is 0 until stored."""

    actor: str
    action: str
    resource: str
    at: datetime
    source_ip: str | None = None
    outcome: int = 200
    detail: dict[str, Any] = msgspec.field(default_factory=dict)
    id: int = 0


class AuditQuery(Struct, frozen=True, kw_only=True):
    """Which entries to list, newest first."""

    actor: str | None = None
    resource: str | None = None
    limit: int = 50
    before_id: int | None = None
