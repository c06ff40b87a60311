"""The dispatcher loop over the in-memory fakes: wakes on demand, survives failures, stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from scheduler_application import RunLifecycle, SchedulerService, SchedulingPolicy, TaskControl
from scheduler_dispatcher import Dispatcher
from scheduler_domain import RunStatus
from scheduler_errors import Unavailable
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWakeup,
    a_task,
)


@dataclass
class World:
    clock: FakeClock
    runs: FakeTaskRunRepository
    tasks: FakeTaskRepository
    queue: FakeMessageQueue
    wakeup: FakeWakeup
    control: TaskControl
    dispatcher: Dispatcher


def build_world(scan_interval: float) -> World:
    clock = FakeClock()
    runs = FakeTaskRunRepository()
    tasks = FakeTaskRepository(runs=runs)
    queue = FakeMessageQueue()
    wakeup = FakeWakeup()
    lifecycle = RunLifecycle(runs=runs, tasks=tasks, clock=clock)
    scheduler = SchedulerService(
        tasks=tasks, runs=runs, queue=queue, lifecycle=lifecycle, clock=clock, policy=SchedulingPolicy()
    )
    control = TaskControl(tasks=tasks, runs=runs, clock=clock, wakeup=wakeup, executors={"shell": None})
    dispatcher = Dispatcher(scheduler=scheduler, wakeup=wakeup, scan_interval=scan_interval)
    return World(clock, runs, tasks, queue, wakeup, control, dispatcher)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    built = build_world(scan_interval=60)
    running = asyncio.create_task(built.dispatcher.run())
    yield built
    built.dispatcher.stop()
    async with asyncio.timeout(2):
        await running


async def until(predicate, what: str, timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_a_trigger_wakes_the_dispatcher_without_waiting_for_the_next_scan(world: World) -> None:
    task = await world.control.create(a_task())
    await until(lambda: world.dispatcher.passes >= 1, "first pass")

    run = await world.control.trigger(task.id)

    # the scan interval is 60 s: only the wake-up can dispatch within the deadline
    await until(lambda: len(world.queue.messages("task.shell")) == 1, "dispatch after trigger")
    assert world.queue.messages("task.shell")[0].payload.run_id == run.id
    assert (await world.runs.get(run.id)).status is RunStatus.QUEUED


async def test_a_wake_up_dispatches_without_scanning_for_due_schedules(world: World) -> None:
    cron = await world.control.create(a_task(name="cron", schedule="* * * * *"))
    await until(lambda: world.dispatcher.passes >= 1, "first pass")
    world.clock.advance(minutes=2)  # the cron task is due, but the next scan is 60 s away
    manual = await world.control.create(a_task(name="manual"))

    run = await world.control.trigger(manual.id)

    await until(lambda: len(world.queue.messages("task.shell")) >= 1, "dispatch after trigger")
    assert [message.payload.run_id for message in world.queue.messages("task.shell")] == [run.id]
    assert [stored.task_id for stored in world.runs.rows.values()] == [manual.id]
    assert (await world.tasks.get(cron.id)).next_run_at is not None


async def test_a_stream_of_wake_ups_does_not_hold_back_the_scan_for_due_schedules() -> None:
    built = build_world(scan_interval=0.1)
    cron = await built.control.create(a_task(name="cron", schedule="* * * * *"))
    running = asyncio.create_task(built.dispatcher.run())

    async def keep_waking() -> None:
        while True:
            built.wakeup.notify()
            await asyncio.sleep(0.005)

    try:
        await until(lambda: built.dispatcher.passes >= 1, "first pass")
        built.clock.advance(minutes=2)
        waking = asyncio.create_task(keep_waking())
        await until(lambda: any(r.task_id == cron.id for r in built.runs.rows.values()), "the cron fire")
        waking.cancel()
    finally:
        built.dispatcher.stop()
        async with asyncio.timeout(2):
            await running


async def test_stop_makes_run_return_promptly() -> None:
    built = build_world(scan_interval=60)
    running = asyncio.create_task(built.dispatcher.run())
    await until(lambda: built.dispatcher.passes >= 1, "first pass")

    built.dispatcher.stop()

    async with asyncio.timeout(1):
        await running
    assert running.done()


async def test_a_failing_pass_is_retried_and_the_loop_survives() -> None:
    built = build_world(scan_interval=0.01)
    task = await built.control.create(a_task())
    run = await built.control.trigger(task.id)
    built.queue.fail_publish = Unavailable("broker down")
    running = asyncio.create_task(built.dispatcher.run())
    try:
        await until(lambda: built.wakeup.waits >= 2, "a failed pass followed by a pause")
        assert (await built.runs.get(run.id)).status is RunStatus.PENDING
        assert built.queue.published == []

        built.queue.fail_publish = None
        built.wakeup.notify()

        await until(lambda: len(built.queue.published) == 1, "dispatch once the broker is back", timeout=5)
        assert (await built.runs.get(run.id)).status is RunStatus.QUEUED
    finally:
        built.dispatcher.stop()
        async with asyncio.timeout(2):
            await running
