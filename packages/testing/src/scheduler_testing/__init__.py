"""Builders and in-memory fakes of every port, for tests (never imported by production code)."""

from scheduler_testing.builders import a_dispatch, a_run, a_task
from scheduler_testing.clock import FakeClock
from scheduler_testing.leases import FakeLeaseRepository
from scheduler_testing.manual_runs import FakeManualRunStore
from scheduler_testing.presence import FakeWorkerPresence
from scheduler_testing.queue import FakeDelivery, FakeMessageQueue
from scheduler_testing.repositories import (
    FakeApiKeyRepository,
    FakeAuditLogRepository,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWorkerRepository,
)
from scheduler_testing.signals import FakeRunReporter, FakeWakeup
from scheduler_testing.waiting import eventually, process_is_dead

__all__ = [
    "FakeApiKeyRepository",
    "FakeAuditLogRepository",
    "FakeClock",
    "FakeDelivery",
    "FakeLeaseRepository",
    "FakeManualRunStore",
    "FakeMessageQueue",
    "FakeRunReporter",
    "FakeTaskRepository",
    "FakeTaskRunRepository",
    "FakeWakeup",
    "FakeWorkerPresence",
    "FakeWorkerRepository",
    "a_dispatch",
    "a_run",
    "a_task",
    "eventually",
    "process_is_dead",
]
