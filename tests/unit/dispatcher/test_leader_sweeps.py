"""The dispatcher and its leadership: only the leader sweeps; stopping releases the lease."""

from __future__ import annotations

import asyncio

from tests.unit.dispatcher.shared_store import Shared

from scheduler_application import (
    DISPATCHER_LEASE,
    Leadership,
    RunLifecycle,
    SchedulerService,
    SchedulingPolicy,
    WorkerRecovery,
)
from scheduler_dispatcher import Dispatcher
from scheduler_domain import RunStatus, TaskRun, WorkerInfo
from scheduler_testing import (
    FakeWakeup,
    a_run,
    a_task,
    eventually,
)


class Instance:
    """One dispatcher over shared fakes, with its own leadership."""

    def __init__(self, shared: Shared, holder: str) -> None:
        lifecycle = RunLifecycle(runs=shared.runs, tasks=shared.tasks, clock=shared.clock)
        scheduler = SchedulerService(
            tasks=shared.tasks,
            runs=shared.runs,
            queue=shared.queue,
            lifecycle=lifecycle,
            clock=shared.clock,
            policy=SchedulingPolicy(),
        )
        recovery = WorkerRecovery(
            workers=shared.workers, runs=shared.runs, lifecycle=lifecycle, clock=shared.clock
        )
        self.leadership = Leadership(leases=shared.leases, holder=holder, lease_seconds=60)
        self.dispatcher = Dispatcher(
            scheduler=scheduler,
            wakeup=FakeWakeup(),
            scan_interval=0.01,
            sweep_interval=0,
            leadership=self.leadership,
            recovery=recovery,
        )


class Store(Shared):
    async def overdue_run(self) -> TaskRun:
        task = await self.tasks.add(a_task(name=f"t{len(self.tasks.rows)}"))
        run = await self.runs.add(a_run(task_id=task.id, timeout_seconds=10))
        started = run.queued(self.clock.now()).started("w-1", self.clock.now())
        self.runs.rows[run.id] = started
        return started


async def test_only_the_leader_sweeps() -> None:
    shared = Store()
    leader, standby = Instance(shared, "a"), Instance(shared, "b")
    await leader.leadership.renew()
    await standby.leadership.renew()
    run = await shared.overdue_run()
    shared.clock.advance(3600)

    await standby.dispatcher.run_pass()
    assert shared.runs.rows[run.id].status is RunStatus.RUNNING

    await leader.dispatcher.run_pass()
    assert shared.runs.rows[run.id].status is RunStatus.TIMED_OUT


async def test_the_leaders_sweep_fails_the_runs_of_lost_workers() -> None:
    shared = Store()
    leader = Instance(shared, "a")
    await shared.workers.save(WorkerInfo(id="w-1", hostname="h", last_heartbeat=shared.clock.now()))
    run = await shared.overdue_run()
    shared.clock.advance(31)
    await leader.leadership.renew()

    await leader.dispatcher.run_pass()

    assert shared.runs.rows[run.id].status is RunStatus.FAILED


async def test_a_running_dispatcher_takes_the_lease_and_releases_it_when_stopped() -> None:
    shared = Store()
    instance = Instance(shared, "a")
    running = asyncio.create_task(instance.dispatcher.run())
    await eventually(lambda: instance.leadership.is_leader and instance.dispatcher.passes >= 2)
    assert await shared.leases.holder(DISPATCHER_LEASE) == "a"

    instance.dispatcher.stop()
    async with asyncio.timeout(2):
        await running

    assert await shared.leases.holder(DISPATCHER_LEASE) is None
    standby = Instance(shared, "b")
    assert await standby.leadership.renew()
