"""A wave whose release was lost (a crash between a run's end and its release) is settled by the sweep."""

from __future__ import annotations

from datetime import timedelta

from scheduler_application import DependencyRelease, WaveRecovery
from scheduler_domain import RunStatus, TaskRun, Trigger
from scheduler_testing import FakeClock, FakeTaskRepository, FakeTaskRunRepository, a_task


async def test_a_run_left_waiting_after_its_upstreams_ended_is_released_by_the_sweep(
    tasks: FakeTaskRepository, runs: FakeTaskRunRepository, clock: FakeClock
) -> None:
    a = await tasks.add(a_task(name="a"))
    b = await tasks.add(a_task(name="b", dependencies=(a.id,)))
    c = await tasks.add(a_task(name="c", dependencies=(a.id,)))
    d = await tasks.add(a_task(name="d", dependencies=(b.id, c.id)))
    now = clock.now()
    root = await runs.add(TaskRun(task_id=a.id, status=RunStatus.SUCCEEDED, created_at=now, updated_at=now))
    for upstream in (b, c):
        await runs.add(
            TaskRun(
                task_id=upstream.id,
                trigger=Trigger.DEPENDENCY,
                wave_id=root.id,
                status=RunStatus.SUCCEEDED,
                updated_at=now,
            )
        )
    # D was created waiting when B ended; the release that C's end owed it was lost in a crash.
    stuck = await runs.add(
        TaskRun(
            task_id=d.id,
            trigger=Trigger.DEPENDENCY,
            wave_id=root.id,
            waiting=True,
            created_at=now,
            updated_at=now,
        )
    )
    sweep = WaveRecovery(
        runs=runs,
        dependencies=DependencyRelease(runs=runs, tasks=tasks, clock=clock),
        clock=clock,
        stale_after=timedelta(seconds=30),
    )

    assert await sweep.settle_stale_waves() == []  # not stale yet: a slow wave is left alone
    assert runs.rows[stuck.id].waiting

    clock.advance(seconds=31)
    settled = await sweep.settle_stale_waves()

    released = runs.rows[stuck.id]
    assert [run.id for run in settled] == [stuck.id]
    assert (released.status, released.waiting) == (RunStatus.PENDING, False)
    assert await sweep.settle_stale_waves() == []  # settling again changes nothing
    assert runs.rows[stuck.id] == released
