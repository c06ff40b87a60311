"""Dependency release: when a run ends, create, release or skip the runs downstream of it."""

from __future__ import annotations

from scheduler_domain import (
    RunStatus,
    Task,
    TaskRepository,
    TaskRun,
    TaskRunRepository,
    Wave,
)
from scheduler_errors import NotFound
from scheduler_foundation import Clock, DispatchWakeup


class DependencyRelease:
    """Applies the dependency rule (`scheduler_domain.waves`) to the wave of a run that ended.

    Safe to run concurrently for the same wave, from several dispatchers: a downstream run is
    created at most once per wave (the repositories' get-or-create), and a waiting run is released
    or skipped only while it still waits, so each happens once whoever gets there first.
    """

    def __init__(
        self,
        *,
        runs: TaskRunRepository,
        tasks: TaskRepository,
        clock: Clock,
        wakeup: DispatchWakeup | None = None,
    ) -> None:
        self._runs = runs
        self._tasks = tasks
        self._clock = clock
        self._wakeup = wakeup

    async def run_ended(self, run: TaskRun) -> list[TaskRun]:
        """Settle what the end of `run` decides downstream; returns the runs created or settled.

        Call it once `run` has ended for good: it succeeded, or it failed, timed out or was
        cancelled with no retry created. Calling it again for the same run changes nothing.
        """
        if not run.status.is_final:
            return []
        tasks = await self._wave_tasks(run)
        if not any(run.task_id in task.dependencies for task in tasks):
            return []
        changed: list[TaskRun] = []
        # A skip ends a run, which decides the tasks below it: one more pass per level at most.
        for _ in range(len(tasks)):
            wave = Wave(root_task_id=tasks[0].id, tasks=tasks, runs=await self._runs.wave_runs(run.wave))
            stored = await self._apply(wave, {task.id: task for task in tasks}, run.wave)
            changed += stored
            if not any(moved.status is RunStatus.SKIPPED for moved in stored):
                break
        if self._wakeup is not None and any(_claimable(moved) for moved in changed):
            self._wakeup.notify()
        return changed

    async def _wave_tasks(self, run: TaskRun) -> list[Task]:
        """The wave's root task first, then the tasks downstream of it ([] once they are gone)."""
        try:
            root_task_id = run.task_id if run.wave_id is None else (await self._runs.get(run.wave)).task_id
            tasks = await self._tasks.downstream(root_task_id)
        except NotFound:
            return []
        return sorted(tasks, key=lambda task: task.id != root_task_id)

    async def _apply(self, wave: Wave, tasks: dict[int, Task], wave_id: int) -> list[TaskRun]:
        """Create the runs the steps ask for, then release or skip the waiting ones in one batch."""
        now = self._clock.now()
        stored: list[TaskRun] = []
        settling: list[TaskRun] = []
        for step in wave.next_steps():
            run = wave.current_run(step.task_id)
            if run is None:
                # If another dispatcher created it since the wave was read, `add` hands back that
                # run instead, maybe still waiting: then this step settles it.
                run = await self._runs.add(step.new_run(tasks[step.task_id], wave_id, now))
                stored.append(run)
            change = step.applied_to(run, now)
            if change is not None:
                settling.append(change)
        return stored + (await self._runs.settle_waiting(settling) if settling else [])


def _claimable(run: TaskRun) -> bool:
    return run.status is RunStatus.PENDING and not run.waiting
