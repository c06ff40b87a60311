"""Status reports from workers to PostgreSQL over the real Redis Streams and RabbitMQ queues.

Workers publish with `QueueRunReporter`; a `StatusApplier` consumes the status queue and writes
through the real PostgreSQL run store, counted, to show that the batch path carries the load.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import aio_pika
import pytest

from scheduler_application import RunLifecycle, StatusReports
from scheduler_dispatcher import StatusApplier
from scheduler_domain import (
    STATUS_RUNS,
    CancelRun,
    RunOutcome,
    RunStatus,
    RunTransition,
    TaskRun,
    worker_command_key,
)
from scheduler_foundation import MessageQueue, SystemClock
from scheduler_infrastructure import PostgresDatabase, PostgresTaskRepository, PostgresTaskRunRepository
from scheduler_testing import a_run, a_task
from scheduler_worker import QueueRunReporter
from tests.conformance.queues import RabbitMQBroker, RedisBroker
from tests.integration.postgres.server import migrated_database

RUNS = 500
WORKER = "w-int"
COMMANDS = worker_command_key(WORKER)


class CountingRuns:
    """The PostgreSQL run store, counting the calls the status path makes."""

    def __init__(self, runs: PostgresTaskRunRepository) -> None:
        self._runs = runs
        self.calls = {"get": 0, "transition": 0, "get_many": 0, "transition_many": 0}

    async def get(self, run_id: int) -> TaskRun:
        self.calls["get"] += 1
        return await self._runs.get(run_id)

    async def transition(self, run: TaskRun, **kwargs: Any) -> TaskRun | None:
        self.calls["transition"] += 1
        return await self._runs.transition(run, **kwargs)

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        self.calls["get_many"] += 1
        return await self._runs.get_many(run_ids)

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        self.calls["transition_many"] += 1
        return await self._runs.transition_many(changes)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runs, name)


def outcome_of(index: int) -> RunOutcome:
    """What the worker reports for the `index`-th run: a mix of ends, each recognisable."""
    if index % 3 == 0:
        return RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, result={"index": index})
    if index % 3 == 1:
        return RunOutcome(status=RunStatus.FAILED, exit_code=index % 250, error_message=f"failed {index}")
    return RunOutcome(status=RunStatus.CANCELLED, error_message=f"cancelled {index}")


@pytest.fixture
async def db() -> AsyncIterator[PostgresDatabase]:
    async with migrated_database(max_size=4) as database:
        yield database


@pytest.fixture(params=["redis", "rabbitmq"])
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[RedisBroker | RabbitMQBroker]:
    """A fresh namespace on the shared broker, emptied afterwards."""
    made = RedisBroker() if request.param == "redis" else RabbitMQBroker()
    try:
        yield made
    finally:
        await made.cleanup()
        if isinstance(made, RabbitMQBroker):
            await drop_rabbitmq_queues(made, [STATUS_RUNS, COMMANDS])


async def drop_rabbitmq_queues(broker: RabbitMQBroker, keys: list[str]) -> None:
    connection = await aio_pika.connect(broker.url)
    try:
        channel = await connection.channel()
        for key in keys:
            for name in (key, f"dead_letter.{key}"):
                await channel.queue_delete(broker.namespace + name)
    finally:
        await connection.close()


async def queued_runs(db: PostgresDatabase, count: int) -> list[TaskRun]:
    tasks = PostgresTaskRepository(db=db)
    runs = PostgresTaskRunRepository(db=db)
    task = await tasks.add(a_task(name="reported"))
    for _ in range(count):
        await runs.add(a_run(task_id=task.id))
    claimed = await runs.claim_pending(datetime.now(UTC), count)
    assert len(claimed) == count
    return sorted(claimed, key=lambda run: run.id)


async def applied(runs: CountingRuns, ids: list[int], within: float = 15.0) -> dict[int, TaskRun]:
    """The runs once every one of them has ended."""
    async with asyncio.timeout(within):
        while True:
            stored = await runs.get_many(ids)
            if all(run.status.is_final for run in stored.values()):
                return stored
            await asyncio.sleep(0.05)


async def test_500_finish_reports_are_applied_in_batches_exactly_as_reported(
    db: PostgresDatabase, broker: RedisBroker | RabbitMQBroker
) -> None:
    runs = await queued_runs(db, RUNS + 1)
    reported, cancelled = runs[:RUNS], runs[RUNS]
    store = PostgresTaskRunRepository(db=db)
    await store.transition(cancelled.cancelled(datetime.now(UTC), "not needed"), expected=RunStatus.QUEUED)
    worker_queue: MessageQueue = await broker.open()
    dispatcher_queue: MessageQueue = await broker.open()
    reporter = QueueRunReporter(queue=worker_queue, clock=SystemClock())
    for index, run in enumerate(reported):
        await reporter.finish(run.id, run.attempt, WORKER, outcome_of(index))
    for index, run in enumerate(reported[:50]):  # a worker that reported twice
        await reporter.finish(run.id, run.attempt, WORKER, outcome_of(index))
    assert await reporter.start(cancelled.id, cancelled.attempt, WORKER) is True

    counted = CountingRuns(store)
    tasks = PostgresTaskRepository(db=db)
    lifecycle = RunLifecycle(runs=counted, tasks=tasks, clock=SystemClock())
    reports = StatusReports(
        runs=counted, tasks=tasks, lifecycle=lifecycle, queue=dispatcher_queue, clock=SystemClock()
    )
    applier = StatusApplier(queue=dispatcher_queue, reports=reports, routing_keys=[STATUS_RUNS])
    running = asyncio.create_task(applier.run())
    try:
        stored = await applied(counted, [run.id for run in reported])
        command = await anext(aiter(worker_queue.consume([COMMANDS], prefetch=1)))
        await command.ack()
        async with asyncio.timeout(10):
            while applier.reports < RUNS + 51:
                await asyncio.sleep(0.02)
    finally:
        applier.stop()
        async with asyncio.timeout(10):
            await running

    for index, run in enumerate(reported):
        expected = outcome_of(index)
        got = stored[run.id]
        assert (got.status, got.exit_code, got.result, got.error_message, got.worker_id) == (
            expected.status,
            expected.exit_code,
            expected.result,
            expected.error_message,
            WORKER,
        )
    assert command.message.payload == CancelRun(
        run_id=cancelled.id, attempt=1, reason="cancelled before it started"
    )
    assert (await store.get(cancelled.id)).status is RunStatus.CANCELLED
    assert counted.calls["get"] == counted.calls["transition"] == 0
    assert applier.batches <= 40, f"{applier.batches} batches for {RUNS + 51} reports"
    assert counted.calls["transition_many"] <= applier.batches
