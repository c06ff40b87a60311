"""Fixtures of the worker tests: deadline-bound waiting, process checks, a worker harness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest

from scheduler_domain import Message, RunDispatch, RunOutcome, RunStatus
from scheduler_foundation import ExecutorRegistry, TaskExecutor
from scheduler_testing import FakeDelivery, FakeMessageQueue, FakeRunReporter, a_dispatch
from scheduler_testing.waiting import eventually, process_is_dead
from scheduler_worker import Worker

Eventually = Callable[..., Awaitable[None]]


@pytest.fixture
def wait_until() -> Eventually:
    """`await wait_until(condition, within=...)`."""
    return eventually


@pytest.fixture
def is_dead() -> Callable[[int], bool]:
    """`is_dead(pid)`: the process is gone or a zombie."""
    return process_is_dead


class RecordingQueue(FakeMessageQueue):
    """The fake queue, keeping every delivery it handed out so tests can see how it was settled."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[FakeDelivery] = []

    async def consume(self, routing_keys: Sequence[str], *, prefetch: int) -> AsyncIterator[FakeDelivery]:
        async for delivery in super().consume(routing_keys, prefetch=prefetch):
            self.deliveries.append(delivery)
            yield delivery

    def settled(self, message: Message) -> list[str | None]:
        """How each delivery of `message` was settled (None: not yet)."""
        return [d.settled for d in self.deliveries if d.message.id == message.id]


class GatedExecutor:
    """Holds each run until the test releases it; counts simultaneous executions."""

    name = "gated"

    def __init__(self) -> None:
        self.started: list[int] = []
        self.cancelled: list[int] = []
        self.running = 0
        self.max_running = 0
        self.outcome = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0)
        self._gates: dict[int, asyncio.Event] = {}

    def release(self, run_id: int) -> None:
        """Let run `run_id` finish with `self.outcome`."""
        self._gate(run_id).set()

    async def execute(self, job: RunDispatch) -> RunOutcome:
        self.started.append(job.run_id)
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            await self._gate(job.run_id).wait()
        except asyncio.CancelledError:
            self.cancelled.append(job.run_id)
            raise
        finally:
            self.running -= 1
        return self.outcome

    def _gate(self, run_id: int) -> asyncio.Event:
        return self._gates.setdefault(run_id, asyncio.Event())


class Harness:
    """A worker on a recording fake queue and a fake reporter, running in a task."""

    def __init__(self, *executors: TaskExecutor) -> None:
        self.queue = RecordingQueue()
        self.reporter = FakeRunReporter()
        self.executor = GatedExecutor()
        self.executors = ExecutorRegistry([self.executor, *executors])
        self.worker: Worker | None = None
        self.task: asyncio.Task[None] | None = None

    def build(self, **overrides: Any) -> Worker:
        """A worker `w1` for shell runs; any constructor argument can be overridden."""
        arguments: dict[str, Any] = {
            "worker_id": "w1",
            "queue": self.queue,
            "reporter": self.reporter,
            "executors": self.executors,
            "task_types": ["shell"],
            "concurrency": 2,
            "drain_grace_seconds": 5.0,
            "report_backoff_seconds": 0.01,
        }
        arguments.update(overrides)
        self.worker = Worker(**arguments)
        return self.worker

    def start(self, **overrides: Any) -> Worker:
        """Build a worker and run it in a task."""
        worker = self.build(**overrides)
        self.task = asyncio.create_task(worker.run())
        return worker

    async def dispatch(self, run_id: int, command: str = "echo hello", **fields: Any) -> Message:
        """Publish a run of the gated executor (or the one named in `fields`)."""
        fields.setdefault("executor", "gated")
        message = Message(payload=a_dispatch(command, run_id=run_id, **fields))
        await self.queue.publish("task.shell", message)
        return message


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    """A harness whose worker is stopped (or, failing that, cancelled) after the test."""
    made = Harness()
    yield made
    if made.task is not None and not made.task.done():
        assert made.worker is not None
        made.worker.stop()
        try:
            async with asyncio.timeout(10):
                await made.task
        finally:
            made.task.cancel()
