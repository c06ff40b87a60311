"""A worker as the scheduler knows it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import Struct

from scheduler_domain.values import TaskType, WorkerStatus


class WorkerInfo(Struct, frozen=True, kw_only=True):
    """A registered worker, its capacity and its last sign of life."""

    id: str
    hostname: str
    ip_address: str = "127.0.0.1"
    port: int = 0
    task_types: tuple[TaskType, ...] = (TaskType.SHELL,)
    max_concurrent_tasks: int = 4
    current_task_count: int = 0
    status: WorkerStatus = WorkerStatus.REGISTERING
    last_heartbeat: datetime | None = None
    registered_at: datetime | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)

    def heartbeat(
        self, now: datetime, *, current_task_count: int, status: WorkerStatus | None = None
    ) -> WorkerInfo:
        """This worker, alive at `now`: online (even if marked offline) unless it is draining."""
        return msgspec.structs.replace(
            self,
            last_heartbeat=now,
            current_task_count=current_task_count,
            status=status
            or (WorkerStatus.DRAINING if self.status is WorkerStatus.DRAINING else WorkerStatus.ONLINE),
        )

    def is_lost(self, now: datetime, timeout: timedelta) -> bool:
        """True when the worker has not been heard from for longer than `timeout` and is not offline yet."""
        if self.status is WorkerStatus.OFFLINE:
            return False
        last_seen = self.last_heartbeat or self.registered_at
        return last_seen is None or now - last_seen > timeout

    def offline(self) -> WorkerInfo:
        """This worker, gone."""
        return msgspec.structs.replace(self, status=WorkerStatus.OFFLINE, current_task_count=0)
