"""A worker as the scheduler knows it."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import Struct

from scheduler_domain.security import Principal, Role
from scheduler_domain.text import check_storable
from scheduler_domain.values import TaskType, WorkerStatus
from scheduler_errors import InvalidInput

#: The most tasks a worker may run at once, and so the most it may report running.
MAX_CONCURRENT_TASKS = 10_000
_PORTS = range(65_536)


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
    #: The subject of the credential that registered the worker; None when it registered inside
    #: the scheduler's own process (`standalone`), or before registrations recorded it.
    registered_by: str | None = None

    def answers_to(self, principal: Principal | None) -> bool:
        """True when `principal` may beat for, re-register or deregister this worker.

        A `worker` credential acts only for the workers it registered itself, so that one
        worker's key cannot keep another worker looking alive (its runs would then wait for their
        timeout rather than be retried) or make it leave. The other roles that may write workers
        (operators, admins) act for any; so does the scheduler itself (`principal` None).
        """
        if principal is None or principal.role is not Role.WORKER or self.registered_by is None:
            return True
        return self.registered_by == principal.subject

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
        return self.status is not WorkerStatus.OFFLINE and self._silent_for_longer_than(timeout, now)

    def forgotten(self, now: datetime, retention: timedelta) -> bool:
        """True when the worker is offline and has not been heard from for longer than `retention`."""
        return self.status is WorkerStatus.OFFLINE and self._silent_for_longer_than(retention, now)

    def _silent_for_longer_than(self, duration: timedelta, now: datetime) -> bool:
        last_seen = self.last_heartbeat or self.registered_at
        return last_seen is None or now - last_seen > duration

    def offline(self) -> WorkerInfo:
        """This worker, gone."""
        return msgspec.structs.replace(self, status=WorkerStatus.OFFLINE, current_task_count=0)


#: The longest worker id or hostname a registration takes: a DNS name (253 characters at most) and
#: the `-<pid>` of a default worker id fit; far longer ones would not fit PostgreSQL's index.
MAX_WORKER_NAME_LENGTH = 320


def check_registration(worker: WorkerInfo) -> None:
    """`InvalidInput` naming the first field of `worker` that a registration cannot accept."""
    if not worker.hostname.strip():
        raise InvalidInput.for_field("hostname", "must not be empty")
    for field in ("id", "hostname"):
        if len(getattr(worker, field)) > MAX_WORKER_NAME_LENGTH:
            raise InvalidInput.for_field(field, f"must be at most {MAX_WORKER_NAME_LENGTH} characters")
    for field in ("id", "hostname", "metadata"):
        check_storable(field, getattr(worker, field))
    try:
        address = ipaddress.ip_address(worker.ip_address)
    except ValueError:
        raise InvalidInput.for_field(
            "ip_address", f"{worker.ip_address!r} is not an IPv4 or IPv6 address"
        ) from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # PostgreSQL's inet refuses a zone id (naming no field); SQLite would keep it.
        raise InvalidInput.for_field(
            "ip_address",
            f"{worker.ip_address!r} has a zone id (%{address.scope_id}): give the address without it",
        )
    if worker.port not in _PORTS:
        raise InvalidInput.for_field("port", f"must be between 0 and {_PORTS[-1]}")
    if not worker.task_types:
        raise InvalidInput.for_field("task_types", "must name at least one task type")
    if not 1 <= worker.max_concurrent_tasks <= MAX_CONCURRENT_TASKS:
        raise InvalidInput.for_field("max_concurrent_tasks", f"must be between 1 and {MAX_CONCURRENT_TASKS}")


#: What a worker may say of itself in a heartbeat: it registers by registering and goes offline
#: by deregistering (or by falling silent).
HEARTBEAT_STATUSES = frozenset({WorkerStatus.ONLINE, WorkerStatus.DRAINING})


def check_heartbeat_status(status: WorkerStatus | None) -> None:
    """`InvalidInput` unless `status` is absent or one a live worker can report."""
    if status is not None and status not in HEARTBEAT_STATUSES:
        raise InvalidInput.for_field(
            "status",
            f"a heartbeat says 'online' or 'draining', not {status.value!r} (deregister to go offline)",
        )


def check_task_count(current_task_count: int) -> None:
    """`InvalidInput` unless `current_task_count` is a count a worker can report."""
    if not 0 <= current_task_count <= MAX_CONCURRENT_TASKS:
        raise InvalidInput.for_field("current_task_count", f"must be between 0 and {MAX_CONCURRENT_TASKS}")
