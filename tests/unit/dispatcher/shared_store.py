"""One store and one lease, shared by the dispatchers of a test (each with its own leadership)."""

from __future__ import annotations

from scheduler_testing import (
    FakeClock,
    FakeLeaseRepository,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWorkerRepository,
)


class Shared:
    """The fakes the dispatchers of one test share."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.runs = FakeTaskRunRepository()
        self.tasks = FakeTaskRepository(runs=self.runs)
        self.workers = FakeWorkerRepository()
        self.queue = FakeMessageQueue()
        self.leases = FakeLeaseRepository()
