"""The status applier over the fakes: batches off the queue, settles each delivery, stops cleanly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from scheduler_application import RunLifecycle, StatusReports
from scheduler_dispatcher import StatusApplier
from scheduler_dispatcher.status import MAX_FAILED_TRIES
from scheduler_domain import (
    STATUS_RUNS,
    CancelRun,
    Message,
    RunFinished,
    RunOutcome,
    RunReports,
    RunStarted,
    RunStatus,
    TaskRun,
    worker_command_key,
)
from scheduler_errors import InvalidInput, Unavailable
from scheduler_testing import (
    FakeClock,
    FakeDelivery,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    a_dispatch,
    a_run,
    a_task,
    eventually,
)

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0)


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


class TroubledRuns(FakeTaskRunRepository):
    """The fake run store; `down` makes reads fail as a store that does not answer, `poison` makes
    a read fail as a bug would when it includes that run, `gate` holds reads until set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refusing = False
        self.poison: int | None = None
        self.gate: asyncio.Event | None = None
        self.reads = 0

    async def get_many(self, run_ids: Collection[int]) -> dict[int, TaskRun]:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.down:
            raise Unavailable("the database does not answer")
        if self.refusing:
            raise Unavailable("its circuit breaker is open", retry_after=0.001)
        if self.poison in run_ids:
            raise RuntimeError("a bug")
        return await super().get_many(run_ids)


@dataclass
class World:
    runs: TroubledRuns
    tasks: FakeTaskRepository
    queue: RecordingQueue
    applier: StatusApplier
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self.applier.run())

    async def stopped(self, within: float = 2.0) -> None:
        assert self.task is not None
        self.applier.stop()
        async with asyncio.timeout(within):
            await self.task

    async def queued_runs(self, count: int) -> list[TaskRun]:
        if not self.tasks.rows:
            await self.tasks.add(a_task(name="task-1"))
        return [await self.runs.add(a_run(status=RunStatus.QUEUED, queued_at=NOW)) for _ in range(count)]

    async def report(self, payload: Any) -> Message:
        message = Message(payload=payload)
        await self.queue.publish(STATUS_RUNS, message)
        return message

    def status(self, run: TaskRun) -> RunStatus:
        return self.runs.rows[run.id].status


def build(**options: Any) -> World:
    clock = FakeClock(NOW)
    runs = TroubledRuns()
    tasks = FakeTaskRepository(runs=runs)
    queue = RecordingQueue()
    lifecycle = RunLifecycle(runs=runs, tasks=tasks, clock=clock)
    reports = StatusReports(runs=runs, tasks=tasks, lifecycle=lifecycle, queue=queue, clock=clock)
    settings: dict[str, Any] = {"linger_seconds": 0.01, "error_backoff_seconds": 0.01, **options}
    applier = StatusApplier(queue=queue, reports=reports, routing_keys=[STATUS_RUNS], **settings)
    return World(runs, tasks, queue, applier)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    made = build()
    yield made
    if made.task is not None and not made.task.done():
        await made.stopped()


def started(run: TaskRun, worker: str = "w-1") -> RunStarted:
    return RunStarted(run_id=run.id, attempt=run.attempt, worker_id=worker, at=NOW)


def finished(run: TaskRun, outcome: RunOutcome = SUCCEEDED, worker: str = "w-1") -> RunFinished:
    return RunFinished(run_id=run.id, attempt=run.attempt, worker_id=worker, outcome=outcome, at=NOW)


async def test_reports_waiting_on_the_queue_are_applied_as_one_batch_and_acked(world: World) -> None:
    runs = await world.queued_runs(20)
    messages = [await world.report(finished(run)) for run in runs]

    world.start()
    await eventually(lambda: all(world.status(run) is RunStatus.SUCCEEDED for run in runs))
    await eventually(lambda: all(world.queue.settled(m) == ["ack"] for m in messages))

    assert (world.applier.batches, world.applier.reports, world.runs.reads) == (1, 20, 1)


async def test_a_message_carrying_several_reports_is_applied_in_order_and_acked_once(world: World) -> None:
    runs = await world.queued_runs(3)
    carried = [report for run in runs for report in (started(run), finished(run))]
    message = await world.report(RunReports(reports=carried))

    world.start()
    await eventually(lambda: world.queue.settled(message) == ["ack"])

    assert [world.status(run) for run in runs] == [RunStatus.SUCCEEDED] * 3
    assert world.applier.reports == 6


async def test_a_few_reports_at_a_quiet_time_are_applied_without_waiting_for_more() -> None:
    world = build(linger_seconds=60)
    runs = await world.queued_runs(2)
    for run in runs:
        await world.report(finished(run))

    world.start()

    await eventually(lambda: all(world.status(run) is RunStatus.SUCCEEDED for run in runs))  # not in 60 s
    await world.stopped()


async def test_a_batch_holds_at_most_max_batch_reports() -> None:
    world = build(max_batch=4, prefetch=4)
    runs = await world.queued_runs(10)
    for run in runs:
        await world.report(finished(run))

    world.start()
    await eventually(lambda: world.applier.reports == 10)
    await world.stopped()

    assert world.applier.batches == 3


async def test_duplicates_and_an_end_before_its_start_leave_the_run_as_reported(world: World) -> None:
    (run,) = await world.queued_runs(1)
    messages = [await world.report(p) for p in (finished(run), finished(run), started(run))]

    world.start()
    await eventually(lambda: all(world.queue.settled(m) == ["ack"] for m in messages))

    stored = world.runs.rows[run.id]
    assert (stored.status, stored.worker_id) == (RunStatus.SUCCEEDED, "w-1")
    assert world.queue.messages(worker_command_key("w-1")) == []


async def test_the_start_of_a_cancelled_run_is_refused_and_the_worker_told_to_stop(world: World) -> None:
    (run,) = await world.queued_runs(1)
    world.runs.rows[run.id] = run.cancelled(NOW, "not needed")
    message = await world.report(started(run, "w-9"))

    world.start()
    await eventually(lambda: world.queue.settled(message) == ["ack"])

    [command] = world.queue.messages(worker_command_key("w-9"))
    assert command.payload == CancelRun(run_id=run.id, attempt=1, reason="cancelled before it started")
    assert world.status(run) is RunStatus.CANCELLED


async def test_a_message_that_is_no_status_report_is_dropped_and_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    (run,) = await world.queued_runs(1)
    stray = await world.report(a_dispatch(run_id=run.id))
    good = await world.report(finished(run))

    with caplog.at_level(logging.WARNING, logger="scheduler_dispatcher"):
        world.start()
        await eventually(lambda: world.queue.settled(good) == ["ack"])

    assert world.queue.settled(stray) == ["drop"]
    assert "expected a status report, got run.dispatch" in caplog.text
    assert world.status(run) is RunStatus.SUCCEEDED


async def test_an_open_breaker_is_waited_out_with_the_batch_in_hand(world: World) -> None:
    runs = await world.queued_runs(3)
    messages = [await world.report(finished(run)) for run in runs]
    world.runs.refusing = True

    world.start()
    await eventually(lambda: world.runs.reads >= MAX_FAILED_TRIES * 3)  # refused again and again
    assert all(world.status(run) is RunStatus.QUEUED for run in runs)
    assert all(world.queue.settled(m) == [None] for m in messages)  # held: no delivery used up
    world.runs.refusing = False

    await eventually(lambda: all(world.status(run) is RunStatus.SUCCEEDED for run in runs))
    await eventually(lambda: all(world.queue.settled(m) == ["ack"] for m in messages))


async def test_a_batch_the_store_keeps_failing_goes_back_to_the_queue_after_a_few_tries(world: World) -> None:
    runs = await world.queued_runs(2)
    messages = [await world.report(finished(run)) for run in runs]
    world.runs.down = True

    world.start()
    await eventually(lambda: world.queue.settled(messages[0])[:1] == ["requeue"], within=10)
    assert world.runs.reads >= MAX_FAILED_TRIES  # tried that often first (then again, redelivered)
    world.runs.down = False

    await eventually(lambda: all(world.status(run) is RunStatus.SUCCEEDED for run in runs))
    await eventually(lambda: all(world.queue.settled(m)[-1] == "ack" for m in messages))


async def test_a_report_waits_out_the_outage_it_meets_when_applied_alone(world: World) -> None:
    runs = await world.queued_runs(3)
    world.runs.poison = runs[1].id
    messages = [await world.report(finished(run)) for run in runs]
    world.runs.down = True

    world.start()
    await eventually(lambda: world.runs.reads >= 3)
    world.runs.down = False

    await eventually(lambda: world.status(runs[2]) is RunStatus.SUCCEEDED)
    assert [world.queue.settled(m) for m in messages] == [["ack"], ["drop"], ["ack"]]


async def test_stopping_during_an_outage_gives_the_batch_back(world: World) -> None:
    runs = await world.queued_runs(2)
    messages = [await world.report(finished(run)) for run in runs]
    world.runs.down = True
    world.start()
    await eventually(lambda: world.runs.reads >= 2)

    await world.stopped()

    assert [world.queue.settled(m) for m in messages] == [["requeue"], ["requeue"]]
    assert all(world.status(run) is RunStatus.QUEUED for run in runs)


async def test_a_report_that_breaks_its_batch_is_dropped_alone(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    good, bad = await world.queued_runs(2)
    world.runs.poison = bad.id
    fine = await world.report(finished(good))
    broken = await world.report(finished(bad))

    with caplog.at_level(logging.ERROR, logger="scheduler_dispatcher"):
        world.start()
        await eventually(lambda: world.queue.settled(broken) == ["drop"])

    assert world.queue.settled(fine) == ["ack"]
    assert world.status(good) is RunStatus.SUCCEEDED
    assert "cannot apply a status report" in caplog.text


async def test_an_idle_applier_stops_promptly(world: World) -> None:
    world.start()
    await asyncio.sleep(0.05)

    await world.stopped(within=1.0)

    assert world.applier.batches == 0


async def test_stop_lets_the_batch_in_hand_finish(world: World) -> None:
    runs = await world.queued_runs(2)
    world.runs.gate = asyncio.Event()
    messages = [await world.report(finished(run)) for run in runs]
    world.start()
    await eventually(lambda: world.runs.reads == 1)

    world.applier.stop()
    world.runs.gate.set()
    assert world.task is not None
    async with asyncio.timeout(2):
        await world.task

    assert [world.queue.settled(m) for m in messages] == [["ack"], ["ack"]]
    assert all(world.status(run) is RunStatus.SUCCEEDED for run in runs)


async def test_stop_gives_back_what_was_taken_but_not_applied() -> None:
    world = build(max_batch=1, prefetch=1)
    runs = await world.queued_runs(3)
    world.runs.gate = asyncio.Event()
    messages = [await world.report(finished(run)) for run in runs]
    world.start()
    await eventually(lambda: world.runs.reads == 1 and len(world.queue.deliveries) == 3)

    world.applier.stop()
    world.runs.gate.set()
    assert world.task is not None
    async with asyncio.timeout(2):
        await world.task

    assert [world.queue.settled(m) for m in messages] == [["ack"], ["requeue"], ["requeue"]]
    assert [world.status(run) for run in runs] == [RunStatus.SUCCEEDED, RunStatus.QUEUED, RunStatus.QUEUED]


async def test_the_applier_returns_when_the_queue_closes(world: World) -> None:
    world.start()
    await asyncio.sleep(0.02)

    await world.queue.close()

    assert world.task is not None
    async with asyncio.timeout(2):
        await world.task


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_batch": 10, "prefetch": 5}, "max_batch"),
        ({"prefetch": 0}, "prefetch"),
        ({"linger_seconds": -1}, "linger_seconds"),
        ({"routing_keys": []}, "routing_keys"),
    ],
)
def test_settings_that_cannot_work_are_refused(options: dict[str, Any], field: str) -> None:
    arguments: dict[str, Any] = {"routing_keys": [STATUS_RUNS], **options}
    with pytest.raises(InvalidInput, match=field):
        StatusApplier(queue=FakeMessageQueue(), reports=None, **arguments)  # type: ignore[arg-type]
