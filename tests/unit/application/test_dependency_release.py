"""Dependency release against the fakes: runs move through a diamond as the workers report."""

from __future__ import annotations

import asyncio

import pytest

from scheduler_application import (
    DependencyRelease,
    RunControl,
    RunLifecycle,
    SchedulerService,
    SchedulingPolicy,
    StatusReports,
)
from scheduler_domain import RunFinished, RunOutcome, RunStatus, TaskRun, Trigger
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    FakeWakeup,
    a_task,
)

from .conftest import START

S = RunStatus


class Diamond:
    """A -> B, A -> C, B and C -> D over the fakes, with a worker's reports done by hand."""

    def __init__(
        self, tasks: FakeTaskRepository, lifecycle: RunLifecycle, scheduler: SchedulerService
    ) -> None:
        self.tasks = tasks
        self.runs = tasks.runs
        self.lifecycle = lifecycle
        self.scheduler = scheduler
        self.ids: dict[str, int] = {}

    async def build(self, **options: dict[str, object]) -> Diamond:
        for name, upstream in (("a", ""), ("b", "a"), ("c", "a"), ("d", "bc"), ("e", "d")):
            dependencies = tuple(self.ids[up] for up in upstream)
            task = await self.tasks.add(a_task(name=name, dependencies=dependencies, **options.get(name, {})))
            self.ids[name] = task.id
        return self

    async def trigger(self, name: str = "a") -> TaskRun:
        return await self.runs.add(TaskRun(task_id=self.ids[name], scheduled_for=START))

    async def dispatch(self) -> list[str]:
        """Claim what is due; the names of the tasks whose runs were published."""
        return sorted(self.name_of(run) for run in await self.scheduler.dispatch_pending())

    async def end(self, name: str, status: RunStatus = S.SUCCEEDED) -> TaskRun | None:
        run = self.latest(name)
        assert run is not None
        assert run.status is S.QUEUED, f"{name} is {run.status}"
        outcome = RunOutcome(status=status, exit_code=0 if status is S.SUCCEEDED else 1)
        return await self.lifecycle.finish(run.id, run.attempt, "w-1", outcome)

    def runs_of(self, name: str) -> list[TaskRun]:
        return sorted((r for r in self.runs.rows.values() if r.task_id == self.ids[name]), key=lambda r: r.id)

    def latest(self, name: str) -> TaskRun | None:
        runs = self.runs_of(name)
        return runs[-1] if runs else None

    def name_of(self, run: TaskRun) -> str:
        return next(name for name, task_id in self.ids.items() if task_id == run.task_id)

    def states(self) -> dict[str, list[tuple[RunStatus, bool]]]:
        return {name: [(r.status, r.waiting) for r in self.runs_of(name)] for name in self.ids}


@pytest.fixture
async def diamond(tasks: FakeTaskRepository, lifecycle: RunLifecycle, scheduler: SchedulerService) -> Diamond:
    return await Diamond(tasks, lifecycle, scheduler).build()


async def test_a_diamond_runs_in_order_each_task_once(diamond: Diamond) -> None:
    root = await diamond.trigger()
    assert await diamond.dispatch() == ["a"]

    await diamond.end("a")
    assert await diamond.dispatch() == ["b", "c"]

    await diamond.end("b")
    assert diamond.states()["d"] == [(S.PENDING, True)]
    assert await diamond.dispatch() == []  # D waits for C

    await diamond.end("c")
    assert await diamond.dispatch() == ["d"]
    await diamond.end("d")
    assert await diamond.dispatch() == ["e"]
    await diamond.end("e")

    assert {name: [status for status, _ in runs] for name, runs in diamond.states().items()} == {
        name: [S.SUCCEEDED] for name in "abcde"
    }
    downstream = [run for name in "bcde" for run in diamond.runs_of(name)]
    assert {(run.trigger, run.wave) for run in downstream} == {(Trigger.DEPENDENCY, root.id)}
    assert root.wave_id is None


async def test_an_upstream_failed_for_good_skips_its_downstream_with_the_reason(diamond: Diamond) -> None:
    await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.dispatch()

    failed = await diamond.end("b", S.FAILED)

    assert failed is not None
    [d] = diamond.runs_of("d")
    [e] = diamond.runs_of("e")
    assert (d.status, d.trigger, d.error_message) == (
        S.SKIPPED,
        Trigger.DEPENDENCY,
        f"upstream task {diamond.ids['b']} (run {failed.id}) failed",
    )
    assert (e.status, e.error_message) == (
        S.SKIPPED,
        f"upstream task {diamond.ids['d']} (run {d.id}) skipped",
    )
    assert d.completed_at == START

    await diamond.end("c")  # C still runs and succeeds, but D stays skipped, and is not made twice
    assert diamond.states()["d"] == [(S.SKIPPED, False)]
    assert await diamond.dispatch() == []


async def test_a_failure_then_a_successful_retry_still_runs_the_downstream_task(
    tasks: FakeTaskRepository, lifecycle: RunLifecycle, scheduler: SchedulerService, clock: FakeClock
) -> None:
    diamond = await Diamond(tasks, lifecycle, scheduler).build(
        b={"max_retries": 1, "retry_backoff_seconds": 1}
    )
    root = await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.dispatch()
    await diamond.end("c")

    await diamond.end("b", S.FAILED)
    assert diamond.states()["d"] == [(S.PENDING, True)]  # held, not skipped: B will be retried

    clock.advance(5)
    assert await diamond.dispatch() == ["b"]
    retry = diamond.latest("b")
    assert retry is not None
    assert (retry.attempt, retry.trigger, retry.wave) == (2, Trigger.RETRY, root.id)
    await diamond.end("b")

    assert await diamond.dispatch() == ["d"]
    assert len(diamond.runs_of("d")) == 1


async def test_the_root_failing_for_good_skips_the_whole_wave(diamond: Diamond) -> None:
    await diamond.trigger()
    await diamond.dispatch()

    failed = await diamond.end("a", S.FAILED)

    assert failed is not None
    assert {name: runs for name, runs in diamond.states().items() if name != "a"} == {
        name: [(S.SKIPPED, False)] for name in "bcde"
    }
    [b] = diamond.runs_of("b")
    assert b.error_message == f"upstream task {diamond.ids['a']} (run {failed.id}) failed"


async def test_two_upstreams_ending_together_create_one_downstream_run_released_once(
    tasks: FakeTaskRepository, clock: FakeClock, queue: FakeMessageQueue
) -> None:
    # Every wave read yields to the other dispatcher, so both read before either writes.
    runs = InterleavingRuns()
    tasks = FakeTaskRepository(runs)
    releases = [DependencyRelease(runs=runs, tasks=tasks, clock=clock) for _ in range(2)]
    lifecycles = [
        RunLifecycle(runs=runs, tasks=tasks, clock=clock, dependencies=release) for release in releases
    ]
    schedulers = [scheduler_over(tasks, queue, lifecycle, clock) for lifecycle in lifecycles]
    diamond = await Diamond(tasks, lifecycles[0], schedulers[0]).build()
    await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.dispatch()
    b, c = diamond.latest("b"), diamond.latest("c")
    assert b is not None
    assert c is not None

    done = RunOutcome(status=S.SUCCEEDED)
    await asyncio.gather(
        lifecycles[0].finish(b.id, 1, "w-1", done),
        lifecycles[1].finish(c.id, 1, "w-2", done),
    )

    assert diamond.states()["d"] == [(S.PENDING, False)]
    assert await diamond.dispatch() == ["d"]
    assert await diamond.dispatch() == []


async def test_cancelling_a_run_that_has_not_started_skips_its_downstream(
    diamond: Diamond, queue: FakeMessageQueue, clock: FakeClock
) -> None:
    release = DependencyRelease(runs=diamond.runs, tasks=diamond.tasks, clock=clock)
    control = RunControl(runs=diamond.runs, queue=queue, clock=clock, dependencies=release)
    await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.dispatch()
    await diamond.end("b")
    c = diamond.latest("c")
    assert c is not None

    await control.cancel(c.id, "not today")

    [d] = diamond.runs_of("d")
    assert (d.status, d.waiting, d.error_message) == (
        S.SKIPPED,
        False,
        f"upstream task {diamond.ids['c']} (run {c.id}) cancelled",
    )


async def test_an_archived_downstream_task_is_not_released(
    diamond: Diamond, scheduler: SchedulerService
) -> None:
    await diamond.tasks.update(diamond.tasks.rows[diamond.ids["c"]].archived(START))
    await diamond.trigger()
    await diamond.dispatch()

    await diamond.end("a")

    assert diamond.runs_of("c") == []
    [d] = diamond.runs_of("d")
    assert (d.status, d.error_message) == (S.SKIPPED, f"upstream task {diamond.ids['c']} is archived")
    assert await diamond.dispatch() == ["b"]


async def test_a_run_cancelled_at_dispatch_because_its_task_was_archived_skips_its_downstream(
    diamond: Diamond,
) -> None:
    await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.tasks.update(diamond.tasks.rows[diamond.ids["c"]].archived(START))

    assert await diamond.dispatch() == ["b"]

    [c] = diamond.runs_of("c")
    [d] = diamond.runs_of("d")
    assert c.status is S.CANCELLED
    assert (d.status, d.error_message) == (
        S.SKIPPED,
        f"upstream task {diamond.ids['c']} (run {c.id}) cancelled",
    )


async def test_a_release_wakes_the_dispatchers(
    tasks: FakeTaskRepository, runs: FakeTaskRunRepository, clock: FakeClock, wakeup: FakeWakeup
) -> None:
    release = DependencyRelease(runs=runs, tasks=tasks, clock=clock, wakeup=wakeup)
    upstream = await tasks.add(a_task(name="up"))
    await tasks.add(a_task(name="down", dependencies=(upstream.id,)))
    run = await runs.add(TaskRun(task_id=upstream.id, status=S.SUCCEEDED))

    changed = await release.run_ended(run)
    again = await release.run_ended(run)

    assert [(r.trigger, r.wave_id, r.status, r.waiting) for r in changed] == [
        (Trigger.DEPENDENCY, run.id, S.PENDING, False)
    ]
    assert again == []
    assert wakeup.notified == 1


async def test_the_end_of_a_run_with_nothing_downstream_changes_nothing(
    tasks: FakeTaskRepository, runs: FakeTaskRunRepository, clock: FakeClock
) -> None:
    release = DependencyRelease(runs=runs, tasks=tasks, clock=clock)
    upstream = await tasks.add(a_task(name="up"))
    run = await runs.add(TaskRun(task_id=upstream.id, status=S.FAILED))

    assert await release.run_ended(run) == []
    assert await release.run_ended(await runs.add(TaskRun(task_id=upstream.id))) == []  # not ended
    assert list(runs.rows) == [run.id, run.id + 1]


async def test_ends_reported_through_the_status_queue_release_and_skip_downstream(
    diamond: Diamond, queue: FakeMessageQueue, clock: FakeClock
) -> None:
    reports = StatusReports(
        runs=diamond.runs, tasks=diamond.tasks, lifecycle=diamond.lifecycle, queue=queue, clock=clock
    )
    await diamond.trigger()
    await diamond.dispatch()
    await diamond.end("a")
    await diamond.dispatch()
    b, c = diamond.latest("b"), diamond.latest("c")
    assert b is not None
    assert c is not None

    await reports.apply_reports(
        [
            RunFinished(
                run_id=b.id, attempt=1, worker_id="w-1", outcome=RunOutcome(status=S.SUCCEEDED), at=START
            ),
            RunFinished(
                run_id=c.id, attempt=1, worker_id="w-1", outcome=RunOutcome(status=S.SUCCEEDED), at=START
            ),
        ]
    )

    assert await diamond.dispatch() == ["d"]
    d = diamond.latest("d")
    assert d is not None
    await reports.apply_reports(
        [RunFinished(run_id=d.id, attempt=1, worker_id="w-1", outcome=RunOutcome(status=S.FAILED), at=START)]
    )
    [e] = diamond.runs_of("e")
    assert (e.status, e.error_message) == (S.SKIPPED, f"upstream task {diamond.ids['d']} (run {d.id}) failed")


class InterleavingRuns(FakeTaskRunRepository):
    """Runs whose wave reads let the event loop run another task, as a real store's await does."""

    async def wave_runs(self, wave_id: int) -> list[TaskRun]:
        read = await super().wave_runs(wave_id)
        await asyncio.sleep(0)
        return read


def scheduler_over(
    tasks: FakeTaskRepository, queue: FakeMessageQueue, lifecycle: RunLifecycle, clock: FakeClock
) -> SchedulerService:
    return SchedulerService(
        tasks=tasks,
        runs=tasks.runs,
        queue=queue,
        lifecycle=lifecycle,
        clock=clock,
        policy=SchedulingPolicy(),
    )
