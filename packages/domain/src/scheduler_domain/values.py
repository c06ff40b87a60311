"""Enumerations and small value objects shared by the entities."""

from __future__ import annotations

import enum
from datetime import UTC, datetime


class TaskType(enum.StrEnum):
    """What kind of work a task does; selects the queue `task.<type>`."""

    SHELL = "shell"
    HTTP = "http"
    PYTHON = "python"
    CUSTOM = "custom"

    @property
    def routing_key(self) -> str:
        """The queue that carries runs of this type."""
        return f"task.{self.value}"


class TaskStatus(enum.StrEnum):
    """Whether a task is scheduled (`active`), held (`paused`) or retired (`archived`)."""

    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class Priority(enum.StrEnum):
    """Dispatch priority; higher ranks are dispatched first."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """0 for `low` up to 3 for `critical`; also the broker message priority."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.CRITICAL: 3}


class RunStatus(enum.StrEnum):
    """Where a run is in its lifecycle."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def is_final(self) -> bool:
        """True once nothing can move the run any more."""
        return self in _FINAL


_FINAL = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.CANCELLED, RunStatus.SKIPPED}
)


class Trigger(enum.StrEnum):
    """Why a run exists."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    RETRY = "retry"
    DEPENDENCY = "dependency"


class MisfirePolicy(enum.StrEnum):
    """What to do with cron fires missed while no dispatcher was running."""

    RUN_ONCE = "run_once"
    SKIP = "skip"


class WorkerStatus(enum.StrEnum):
    """A worker's place in its own lifecycle."""

    REGISTERING = "registering"
    ONLINE = "online"
    DRAINING = "draining"
    OFFLINE = "offline"


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC (the only kind of datetime the domain stores)."""
    return datetime.now(UTC)
