"""The use cases wired to the in-memory fakes, with a clock the tests move by hand."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from scheduler_application import (
    AccessControl,
    RunControl,
    RunLifecycle,
    SchedulerService,
    SchedulingPolicy,
    TaskControl,
    WorkerRegistry,
)
from scheduler_application.scheduling import PendingRunClaims
from scheduler_foundation import TaskCheck, Tracer
from scheduler_testing import (
    FakeApiKeyRepository,
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWakeup,
    FakeWorkerRepository,
)

#: A Monday, in winter (New York is on EST, UTC-5).
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
EXECUTORS: dict[str, TaskCheck | None] = {"shell": None, "http": None, "python": None}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def runs() -> FakeTaskRunRepository:
    return FakeTaskRunRepository()


@pytest.fixture
def tasks(runs: FakeTaskRunRepository) -> FakeTaskRepository:
    return FakeTaskRepository(runs)


@pytest.fixture
def queue() -> FakeMessageQueue:
    return FakeMessageQueue()


@pytest.fixture
def wakeup() -> FakeWakeup:
    return FakeWakeup()


@pytest.fixture
def tracer() -> Tracer | None:
    """The tracer of the task control and the scheduler: none (no tracing) unless a test says."""
    return None


@pytest.fixture
def task_control(
    tasks: FakeTaskRepository,
    runs: FakeTaskRunRepository,
    clock: FakeClock,
    wakeup: FakeWakeup,
    tracer: Tracer | None,
) -> TaskControl:
    return TaskControl(tasks=tasks, runs=runs, clock=clock, wakeup=wakeup, executors=EXECUTORS, tracer=tracer)


@pytest.fixture
def run_control(runs: FakeTaskRunRepository, queue: FakeMessageQueue, clock: FakeClock) -> RunControl:
    return RunControl(runs=runs, queue=queue, clock=clock)


@pytest.fixture
def lifecycle(runs: FakeTaskRunRepository, tasks: FakeTaskRepository, clock: FakeClock) -> RunLifecycle:
    return RunLifecycle(runs=runs, tasks=tasks, clock=clock, rng=random.Random(42))


@pytest.fixture
def policy() -> SchedulingPolicy:
    return SchedulingPolicy()


@pytest.fixture
def claims() -> PendingRunClaims | None:
    """The store's joined claim, if it has one (the fakes do not)."""
    return None


@pytest.fixture
def scheduler(
    tasks: FakeTaskRepository,
    runs: FakeTaskRunRepository,
    queue: FakeMessageQueue,
    lifecycle: RunLifecycle,
    clock: FakeClock,
    policy: SchedulingPolicy,
    claims: PendingRunClaims | None,
    tracer: Tracer | None,
) -> SchedulerService:
    return SchedulerService(
        tasks=tasks,
        runs=runs,
        queue=queue,
        lifecycle=lifecycle,
        clock=clock,
        policy=policy,
        claims=claims,
        tracer=tracer,
    )


@pytest.fixture
def keys() -> FakeApiKeyRepository:
    return FakeApiKeyRepository()


@pytest.fixture
def access(keys: FakeApiKeyRepository, clock: FakeClock) -> AccessControl:
    return AccessControl(keys=keys, clock=clock)


@pytest.fixture
def workers() -> FakeWorkerRepository:
    return FakeWorkerRepository()


@pytest.fixture
def registry(workers: FakeWorkerRepository, clock: FakeClock) -> WorkerRegistry:
    return WorkerRegistry(workers=workers, clock=clock)
