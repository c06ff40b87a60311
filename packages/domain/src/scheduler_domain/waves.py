"""Dependency waves: what the end of a run means for the runs of the tasks downstream of it.

A run not created by a dependency release is the root of its own *wave*. The wave's *members* are
the root run's task and every task downstream of it (depending on it directly or through other
members). A downstream task Y gets at most one run per wave (trigger `dependency`); the upstreams
Y waits for are its dependencies that are members of the wave. Once one of them has ended:

* every one of them succeeded: Y's run is released (claimable from now);
* one of them ended for good without succeeding (failed or timed out with no retry left,
  cancelled, skipped; or an archived task, which never runs): Y's run ends `skipped`, naming it;
* otherwise Y's run waits.

Retries keep the wave, and only the latest attempt of a task counts. An archived task gets no run.
The rules read the task graph as it is when a run ends, so an edit applies to waves in flight.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

from msgspec import Struct

from scheduler_domain.run import TaskRun
from scheduler_domain.task import Task
from scheduler_domain.values import RunStatus, Trigger


class Verdict(enum.StrEnum):
    """What becomes of a downstream task's run in a wave."""

    WAIT = "wait"
    RELEASE = "release"
    SKIP = "skip"


class WaveStep(Struct, frozen=True, kw_only=True):
    """The next move of one task in a wave: create its run, or settle its waiting run."""

    task_id: int
    verdict: Verdict
    reason: str | None = None

    def new_run(self, task: Task, wave_id: int, now: datetime) -> TaskRun:
        """The task's run in wave `wave_id`, waiting, released or already skipped."""
        waiting = self.verdict is Verdict.WAIT
        run = TaskRun(
            task_id=task.id,
            trigger=Trigger.DEPENDENCY,
            task_type=task.task_type,
            priority=task.priority,
            timeout_seconds=task.timeout_seconds,
            scheduled_for=None if waiting else now,
            created_at=now,
            updated_at=now,
            wave_id=wave_id,
            waiting=waiting,
        )
        return run.skipped(now, self._reason) if self.verdict is Verdict.SKIP else run

    def applied_to(self, run: TaskRun, now: datetime) -> TaskRun | None:
        """`run` released or skipped by this step; None when it is not waiting or keeps waiting."""
        if not run.waiting or self.verdict is Verdict.WAIT:
            return None
        return run.released(now) if self.verdict is Verdict.RELEASE else run.skipped(now, self._reason)

    @property
    def _reason(self) -> str:
        return self.reason or "an upstream task did not succeed"


class _Standing(enum.Enum):
    """Where a member task stands in the wave, as its downstream tasks see it."""

    NOT_REACHED = "not reached"  # no run, and none of its upstreams has ended
    UNDER_WAY = "under way"  # waiting, pending, queued, running, or retrying
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # ended for good without succeeding, or archived


class _Mark(NamedTuple):
    standing: _Standing
    reason: str = ""  # for FAILED: why its downstream tasks are skipped


_ENDED = frozenset({_Standing.SUCCEEDED, _Standing.FAILED})
_NOT_REACHED = _Mark(_Standing.NOT_REACHED)
_UNDER_WAY = _Mark(_Standing.UNDER_WAY)


class Wave:
    """One wave: its root task, the tasks downstream of it, and the runs they have in the wave."""

    def __init__(self, *, root_task_id: int, tasks: Iterable[Task], runs: Iterable[TaskRun]) -> None:
        self.root_task_id = root_task_id
        self._tasks = {task.id: task for task in tasks}
        self._current = _latest_attempts(runs)
        self.members = _downstream_closure(root_task_id, self._tasks.values())

    def upstreams_of(self, task_id: int) -> list[int]:
        """The dependencies of `task_id` that belong to the wave: the ones it waits for."""
        task = self._tasks.get(task_id)
        return sorted(dep for dep in task.dependencies if dep in self.members) if task else []

    def current_run(self, task_id: int) -> TaskRun | None:
        """The latest attempt of `task_id` in the wave, if it has one."""
        return self._current.get(task_id)

    def next_steps(self) -> list[WaveStep]:
        """The runs to create and the waiting runs to release or skip, upstream tasks first.

        A skip ends a run, which may decide its own downstream tasks: apply the steps, read the
        wave again and ask again until a pass skips nothing.
        """
        marks: dict[int, _Mark] = {}
        steps: list[WaveStep] = []
        for task_id in self._in_dependency_order():
            marks[task_id], step = self._judge(task_id, marks)
            if step is not None:
                steps.append(step)
        return steps + self._strays()

    def _judge(self, task_id: int, marks: dict[int, _Mark]) -> tuple[_Mark, WaveStep | None]:
        """How `task_id` stands, and its step, given how its upstream tasks stand."""
        run = self._current.get(task_id)
        if task_id == self.root_task_id or (run is not None and not run.waiting):
            return _mark_of(run), None
        upstream = [marks[dep] for dep in self.upstreams_of(task_id)]
        if not any(mark.standing in _ENDED for mark in upstream):
            return (_UNDER_WAY if run else _NOT_REACHED), None
        if not self._tasks[task_id].accepts_runs():
            return _archived(task_id, run)
        step = _step_after(task_id, upstream)
        keeps_waiting = run is not None and step.verdict is Verdict.WAIT
        return _UNDER_WAY, None if keeps_waiting else step

    def _strays(self) -> list[WaveStep]:
        """Waiting runs of tasks no longer downstream of the root (their dependencies changed)."""
        return [
            _skip(task_id, f"task {task_id} is no longer downstream of task {self.root_task_id}")
            for task_id, run in sorted(self._current.items())
            if run.waiting and task_id not in self.members
        ]

    def _in_dependency_order(self) -> list[int]:
        """The members, each after every member it depends on (ties by id)."""
        remaining = {task_id: set(self.upstreams_of(task_id)) for task_id in self.members}
        order: list[int] = []
        while remaining:
            ready = sorted(task_id for task_id, deps in remaining.items() if not deps)
            if not ready:  # a cycle cannot be stored; stop rather than loop if one ever is
                break
            order += ready
            for task_id in ready:
                del remaining[task_id]
            for deps in remaining.values():
                deps.difference_update(ready)
        return order


def _skip(task_id: int, reason: str) -> WaveStep:
    return WaveStep(task_id=task_id, verdict=Verdict.SKIP, reason=reason)


def _step_after(task_id: int, upstream: list[_Mark]) -> WaveStep:
    """Skip on the first upstream that failed, release when all succeeded, else wait."""
    failed = next((mark.reason for mark in upstream if mark.standing is _Standing.FAILED), None)
    if failed is not None:
        return _skip(task_id, failed)
    if all(mark.standing is _Standing.SUCCEEDED for mark in upstream):
        return WaveStep(task_id=task_id, verdict=Verdict.RELEASE)
    return WaveStep(task_id=task_id, verdict=Verdict.WAIT)


def _archived(task_id: int, run: TaskRun | None) -> tuple[_Mark, WaveStep | None]:
    """An archived task gets no run: it fails its downstream tasks, and its waiting run is skipped."""
    if run is None:
        return _Mark(_Standing.FAILED, f"upstream task {task_id} is archived"), None
    return _UNDER_WAY, _skip(task_id, f"task {task_id} is archived")


def _mark_of(run: TaskRun | None) -> _Mark:
    if run is None:
        return _NOT_REACHED
    if run.status is RunStatus.SUCCEEDED:
        return _Mark(_Standing.SUCCEEDED)
    if run.status.is_final:
        how = run.status.value.replace("_", " ")
        return _Mark(_Standing.FAILED, f"upstream task {run.task_id} (run {run.id}) {how}")
    return _UNDER_WAY


def _latest_attempts(runs: Iterable[TaskRun]) -> dict[int, TaskRun]:
    latest: dict[int, TaskRun] = {}
    for run in runs:
        known = latest.get(run.task_id)
        if known is None or (run.attempt, run.id) > (known.attempt, known.id):
            latest[run.task_id] = run
    return latest


def _downstream_closure(root_task_id: int, tasks: Collection[Task]) -> frozenset[int]:
    """`root_task_id` and every task that depends on it, directly or through others in `tasks`."""
    members = {root_task_id}
    frontier = [root_task_id]
    while frontier:
        upstream = frontier.pop()
        for task in tasks:
            if upstream in task.dependencies and task.id not in members:
                members.add(task.id)
                frontier.append(task.id)
    return frozenset(members)
