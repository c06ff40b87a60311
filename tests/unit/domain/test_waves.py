"""The dependency rule: what the end of a run creates, releases or skips downstream, in its wave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from scheduler_domain import (
    RetryPolicy,
    RunStatus,
    Task,
    TaskRun,
    TaskStatus,
    Trigger,
    Verdict,
    Wave,
    WaveStep,
)
from scheduler_errors import Conflict
from scheduler_testing import a_task

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
A, B, C, D, E = 1, 2, 3, 4, 5
WAVE = 10  # the id of A's root run


def diamond(*extra: Task, archived: frozenset[int] = frozenset()) -> list[Task]:
    """A -> B, A -> C, B and C -> D, plus `extra` tasks."""
    tasks = [
        a_task(id=A, name="a"),
        a_task(id=B, name="b", dependencies=(A,)),
        a_task(id=C, name="c", dependencies=(A,)),
        a_task(id=D, name="d", dependencies=(B, C)),
        *extra,
    ]
    return [
        msgspec.structs.replace(task, status=TaskStatus.ARCHIVED) if task.id in archived else task
        for task in tasks
    ]


def a_wave_run(task_id: int, run_id: int, status: RunStatus, **fields: object) -> TaskRun:
    wave_id = None if run_id == WAVE else WAVE
    fields.setdefault("trigger", Trigger.MANUAL if wave_id is None else Trigger.DEPENDENCY)
    return TaskRun(task_id=task_id, id=run_id, status=status, wave_id=wave_id, **fields)  # type: ignore[arg-type]


def root(status: RunStatus = RunStatus.SUCCEEDED) -> TaskRun:
    return a_wave_run(A, WAVE, status)


def steps_of(tasks: list[Task], *runs: TaskRun, root_task: int = A) -> list[tuple[int, Verdict, str | None]]:
    wave = Wave(root_task_id=root_task, tasks=tasks, runs=runs)
    return [(step.task_id, step.verdict, step.reason) for step in wave.next_steps()]


# ------------------------------------------------------------------ release


def test_nothing_happens_downstream_while_the_root_runs() -> None:
    assert steps_of(diamond(), root(RunStatus.RUNNING)) == []


def test_a_succeeded_root_releases_the_tasks_that_wait_only_for_it() -> None:
    assert steps_of(diamond(), root()) == [(B, Verdict.RELEASE, None), (C, Verdict.RELEASE, None)]


def test_a_task_waits_while_one_of_its_upstreams_has_not_succeeded() -> None:
    b = a_wave_run(B, 11, RunStatus.SUCCEEDED)
    c = a_wave_run(C, 12, RunStatus.RUNNING)

    assert steps_of(diamond(), root(), b, c) == [(D, Verdict.WAIT, None)]


def test_a_waiting_run_keeps_waiting_without_a_step() -> None:
    b = a_wave_run(B, 11, RunStatus.SUCCEEDED)
    c = a_wave_run(C, 12, RunStatus.QUEUED)
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert steps_of(diamond(), root(), b, c, d) == []


def test_the_last_upstream_to_succeed_releases_the_waiting_run() -> None:
    b = a_wave_run(B, 11, RunStatus.SUCCEEDED)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    [step] = Wave(root_task_id=A, tasks=diamond(), runs=[root(), b, c, d]).next_steps()
    released = step.applied_to(d, NOW)

    assert step.verdict is Verdict.RELEASE
    assert released is not None
    assert (released.status, released.waiting, released.scheduled_for) == (RunStatus.PENDING, False, NOW)


def test_a_released_or_running_downstream_run_is_left_alone() -> None:
    b = a_wave_run(B, 11, RunStatus.SUCCEEDED)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)
    d = a_wave_run(D, 13, RunStatus.RUNNING)

    assert steps_of(diamond(), root(), b, c, d) == []


def test_an_upstream_outside_the_wave_does_not_hold_a_task_back() -> None:
    # B triggered by hand roots its own wave: C is not downstream of B, so D waits for B only.
    tasks = [task for task in diamond() if task.id in (B, D)]
    b = TaskRun(task_id=B, id=WAVE, status=RunStatus.SUCCEEDED)

    assert steps_of(tasks, b, root_task=B) == [(D, Verdict.RELEASE, None)]


def test_a_new_run_is_a_dependency_run_of_the_wave_copying_the_task() -> None:
    task = a_task(id=D, name="d", priority="high", timeout_seconds=60, dependencies=(B, C))

    waiting = WaveStep(task_id=D, verdict=Verdict.WAIT).new_run(task, WAVE, NOW)
    released = WaveStep(task_id=D, verdict=Verdict.RELEASE).new_run(task, WAVE, NOW)

    assert (waiting.trigger, waiting.wave_id, waiting.waiting, waiting.scheduled_for) == (
        Trigger.DEPENDENCY,
        WAVE,
        True,
        None,
    )
    assert (waiting.priority, waiting.timeout_seconds) == (task.priority, 60)
    assert (released.waiting, released.scheduled_for, released.status) == (False, NOW, RunStatus.PENDING)


# ------------------------------------------------------------------ skip


def test_an_upstream_failed_for_good_skips_the_task_naming_it() -> None:
    b = a_wave_run(B, 11, RunStatus.FAILED)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)

    [step] = Wave(root_task_id=A, tasks=diamond(), runs=[root(), b, c]).next_steps()
    skipped = step.new_run(diamond()[3], WAVE, NOW)

    assert (step.task_id, step.verdict, step.reason) == (D, Verdict.SKIP, "upstream task 2 (run 11) failed")
    assert (skipped.status, skipped.error_message, skipped.completed_at) == (
        RunStatus.SKIPPED,
        "upstream task 2 (run 11) failed",
        NOW,
    )


def test_a_failure_skips_at_once_without_waiting_for_the_other_upstreams() -> None:
    b = a_wave_run(B, 11, RunStatus.TIMED_OUT)
    c = a_wave_run(C, 12, RunStatus.RUNNING)
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert steps_of(diamond(), root(), b, c) == [(D, Verdict.SKIP, "upstream task 2 (run 11) timed out")]
    assert steps_of(diamond(), root(), b, c, d) == [(D, Verdict.SKIP, "upstream task 2 (run 11) timed out")]


@pytest.mark.parametrize("status", [RunStatus.CANCELLED, RunStatus.SKIPPED])
def test_cancelled_and_skipped_upstreams_skip_too(status: RunStatus) -> None:
    b = a_wave_run(B, 11, status)

    [(task_id, verdict, reason)] = steps_of(diamond(), root(), b, a_wave_run(C, 12, RunStatus.SUCCEEDED))

    assert (task_id, verdict) == (D, Verdict.SKIP)
    assert reason == f"upstream task 2 (run 11) {status.value}"


def test_a_failed_root_skips_its_direct_downstream_tasks() -> None:
    assert steps_of(diamond(), root(RunStatus.FAILED)) == [
        (B, Verdict.SKIP, "upstream task 1 (run 10) failed"),
        (C, Verdict.SKIP, "upstream task 1 (run 10) failed"),
    ]


def test_a_skip_cascades_naming_the_skipped_run() -> None:
    tasks = diamond(a_task(id=E, name="e", dependencies=(D,)))
    b = a_wave_run(B, 11, RunStatus.FAILED)
    c = a_wave_run(C, 12, RunStatus.RUNNING)
    d = a_wave_run(D, 13, RunStatus.SKIPPED)

    assert steps_of(tasks, root(), b, c, d) == [(E, Verdict.SKIP, "upstream task 4 (run 13) skipped")]


def test_a_skipped_step_never_touches_a_run_that_is_not_waiting() -> None:
    step = WaveStep(task_id=D, verdict=Verdict.SKIP, reason="upstream task 2 (run 11) failed")

    assert step.applied_to(a_wave_run(D, 13, RunStatus.PENDING), NOW) is None
    assert (
        WaveStep(task_id=D, verdict=Verdict.WAIT).applied_to(
            a_wave_run(D, 13, RunStatus.PENDING, waiting=True), NOW
        )
        is None
    )


# ------------------------------------------------------------------ retries


def test_a_failure_that_is_retried_holds_the_downstream_task() -> None:
    failed = a_wave_run(B, 11, RunStatus.FAILED)
    retry = a_wave_run(B, 14, RunStatus.PENDING, attempt=2, trigger=Trigger.RETRY)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)

    assert steps_of(diamond(), root(), failed, c, retry) == [(D, Verdict.WAIT, None)]


def test_the_retry_that_succeeds_releases_the_downstream_task() -> None:
    failed = a_wave_run(B, 11, RunStatus.FAILED)
    retry = a_wave_run(B, 14, RunStatus.SUCCEEDED, attempt=2, trigger=Trigger.RETRY)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert steps_of(diamond(), root(), failed, c, retry, d) == [(D, Verdict.RELEASE, None)]


def test_a_retried_root_counts_by_its_latest_attempt() -> None:
    retry = a_wave_run(A, 15, RunStatus.SUCCEEDED, attempt=2, trigger=Trigger.RETRY)

    assert [task for task, _, _ in steps_of(diamond(), root(RunStatus.FAILED), retry)] == [B, C]


def test_the_next_attempt_keeps_the_wave() -> None:
    policy = RetryPolicy(max_retries=2, backoff_seconds=1)
    failed_root = TaskRun(task_id=A, id=WAVE, status=RunStatus.FAILED)
    failed_downstream = a_wave_run(B, 11, RunStatus.FAILED)

    retry_of_root = failed_root.next_attempt(policy, NOW, 1.0)
    retry_of_downstream = failed_downstream.next_attempt(policy, NOW, 1.0)

    assert retry_of_root is not None
    assert retry_of_downstream is not None
    assert (retry_of_root.wave_id, retry_of_downstream.wave_id) == (WAVE, WAVE)
    assert (failed_root.wave, failed_downstream.wave) == (WAVE, WAVE)


# ------------------------------------------------------------------ archived and edited tasks


def test_an_archived_task_gets_no_run_and_skips_its_downstream_tasks() -> None:
    assert steps_of(diamond(archived=frozenset({C})), root()) == [
        (B, Verdict.RELEASE, None),
        (D, Verdict.SKIP, "upstream task 3 is archived"),
    ]


def test_an_archived_task_is_not_reached_before_its_upstream_ends() -> None:
    assert steps_of(diamond(archived=frozenset({C})), root(RunStatus.RUNNING)) == []


def test_the_waiting_run_of_a_task_archived_since_is_skipped() -> None:
    b = a_wave_run(B, 11, RunStatus.SUCCEEDED)
    c = a_wave_run(C, 12, RunStatus.SUCCEEDED)
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert steps_of(diamond(archived=frozenset({D})), root(), b, c, d) == [
        (D, Verdict.SKIP, "task 4 is archived")
    ]


def test_a_waiting_run_of_a_task_no_longer_downstream_is_skipped() -> None:
    tasks = [task for task in diamond() if task.id != D]  # D's dependencies were edited away
    d = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert steps_of(tasks, root(RunStatus.RUNNING), d) == [
        (D, Verdict.SKIP, "task 4 is no longer downstream of task 1")
    ]


def test_steps_come_upstream_first_in_a_longer_chain() -> None:
    tasks = [
        a_task(id=A, name="a"),
        a_task(id=E, name="e", dependencies=(A,)),
        a_task(id=B, name="b", dependencies=(E,)),
        a_task(id=C, name="c", dependencies=(A,)),
    ]
    e = a_wave_run(E, 11, RunStatus.CANCELLED)

    assert steps_of(tasks, root(), e) == [
        (C, Verdict.RELEASE, None),
        (B, Verdict.SKIP, "upstream task 5 (run 11) cancelled"),
    ]


# ------------------------------------------------------------------ the waiting state of a run


def test_only_a_pending_run_can_wait() -> None:
    with pytest.raises(ValueError, match="cannot be waiting"):
        TaskRun(task_id=D, status=RunStatus.QUEUED, waiting=True)


def test_a_waiting_run_cannot_be_queued_and_only_a_waiting_run_released() -> None:
    waiting = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    with pytest.raises(Conflict):
        waiting.queued(NOW)
    with pytest.raises(Conflict):
        a_wave_run(D, 13, RunStatus.PENDING).released(NOW)


def test_cancelling_or_skipping_a_waiting_run_ends_the_wait() -> None:
    waiting = a_wave_run(D, 13, RunStatus.PENDING, waiting=True)

    assert waiting.cancelled(NOW).waiting is False
    assert waiting.skipped(NOW + timedelta(seconds=1), "upstream").waiting is False
