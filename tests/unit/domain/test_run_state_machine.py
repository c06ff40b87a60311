"""The run state machine: every allowed move works, every other one is a `Conflict`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler_domain import (
    TRANSITIONS,
    Priority,
    RetryPolicy,
    RunOutcome,
    RunStatus,
    TaskRun,
    TaskType,
    Trigger,
    can_move,
)
from scheduler_errors import Conflict
from scheduler_testing import a_run

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
S = RunStatus
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

#: The lifecycle of SYSTEM.md, spelled out independently of `TRANSITIONS`.
EXPECTED_MOVES = {
    (S.PENDING, S.QUEUED),
    (S.PENDING, S.CANCELLED),
    (S.PENDING, S.SKIPPED),
    (S.QUEUED, S.PENDING),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.SUCCEEDED),
    (S.QUEUED, S.FAILED),
    (S.QUEUED, S.TIMED_OUT),
    (S.QUEUED, S.CANCELLED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.TIMED_OUT),
    (S.RUNNING, S.CANCELLED),
}
ALL_PAIRS = [(current, target) for current in RunStatus for target in RunStatus]
FORBIDDEN = [pair for pair in ALL_PAIRS if pair not in EXPECTED_MOVES]
FINAL = [S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.CANCELLED, S.SKIPPED]


def move(run: TaskRun, target: RunStatus, now: datetime = NOW) -> TaskRun:
    """Ask `run` to become `target` through the entity method that leads there."""
    if target is S.PENDING:
        return run.requeued(now)
    if target is S.QUEUED:
        return run.queued(now)
    if target is S.RUNNING:
        return run.started("w1", now)
    if target is S.SKIPPED:
        return run.skipped(now, "upstream failed")
    return run.finished(RunOutcome(status=target), now)


def test_transitions_table_is_the_documented_lifecycle() -> None:
    table = {(current, target) for current, targets in TRANSITIONS.items() for target in targets}
    assert table == EXPECTED_MOVES


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_MOVES))
def test_every_allowed_transition_moves_the_run(current: RunStatus, target: RunStatus) -> None:
    run = a_run(id=7, status=current)

    moved = move(run, target)

    assert can_move(current, target)
    assert moved.status is target
    assert moved.updated_at == NOW
    assert (moved.id, moved.attempt) == (7, 1)


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_every_transition_outside_the_table_is_a_conflict(current: RunStatus, target: RunStatus) -> None:
    run = a_run(id=7, status=current)

    assert not can_move(current, target)
    with pytest.raises(Conflict, match="run 7"):
        move(run, target)
    assert run.status is current


@pytest.mark.parametrize("final", FINAL)
def test_final_states_are_final(final: RunStatus) -> None:
    run = a_run(status=final)

    assert final.is_final
    assert final not in TRANSITIONS
    for target in RunStatus:
        with pytest.raises(Conflict):
            move(run, target)
    with pytest.raises(Conflict):
        run.cancelled(NOW)


@pytest.mark.parametrize("status", [S.PENDING, S.QUEUED, S.RUNNING])
def test_live_states_are_not_final(status: RunStatus) -> None:
    assert not status.is_final


@given(st.lists(st.sampled_from(list(RunStatus)), max_size=12))
def test_random_sequences_follow_the_table_and_never_leave_a_final_state(
    targets: list[RunStatus],
) -> None:
    run = a_run()
    for target in targets:
        before = run.status
        try:
            run = move(run, target)
        except Conflict:
            assert not can_move(before, target)
            assert run.status is before
        else:
            assert (before, target) in EXPECTED_MOVES
            assert not before.is_final


def test_queued_records_when_and_requeued_forgets_it() -> None:
    queued = a_run().queued(NOW)
    later = NOW + timedelta(minutes=5)

    requeued = queued.requeued(later)

    assert queued.queued_at == NOW
    assert (requeued.status, requeued.queued_at, requeued.updated_at) == (S.PENDING, None, later)


def test_started_records_the_worker_and_the_start() -> None:
    running = a_run(status=S.QUEUED).started("w9", NOW)

    assert (running.worker_id, running.started_at) == ("w9", NOW)


def test_finished_records_the_outcome() -> None:
    started = NOW - timedelta(seconds=30)
    running = a_run(status=S.RUNNING, worker_id="w1", started_at=started)
    outcome = RunOutcome(status=S.FAILED, exit_code=2, result={"out": "x"}, error_message="boom")

    ended = running.finished(outcome, NOW)

    assert ended.status is S.FAILED
    assert (ended.exit_code, ended.result, ended.error_message) == (2, {"out": "x"}, "boom")
    assert (ended.started_at, ended.completed_at, ended.worker_id) == (started, NOW, "w1")


def test_a_run_that_ends_before_its_start_was_applied_gets_a_start_time() -> None:
    ended = a_run(status=S.QUEUED).finished(RunOutcome(status=S.SUCCEEDED), NOW, worker_id="w2")

    assert (ended.status, ended.started_at, ended.worker_id) == (S.SUCCEEDED, NOW, "w2")


def test_cancelled_and_skipped_keep_the_reason() -> None:
    assert a_run().cancelled(NOW, "no longer needed").error_message == "no longer needed"
    skipped = a_run().skipped(NOW, "task 3 failed")
    assert (skipped.status, skipped.error_message, skipped.completed_at) == (S.SKIPPED, "task 3 failed", NOW)


def test_only_a_running_run_can_be_asked_to_stop() -> None:
    asked = a_run(status=S.RUNNING).cancel_requested(NOW)

    assert (asked.status, asked.cancel_requested_at) == (S.RUNNING, NOW)
    for status in RunStatus:
        if status is not S.RUNNING:
            with pytest.raises(Conflict):
                a_run(status=status).cancel_requested(NOW)


def test_deadline_is_timeout_plus_grace_after_the_start_of_a_running_run() -> None:
    running = a_run(status=S.RUNNING, started_at=NOW, timeout_seconds=60)
    grace = timedelta(seconds=30)

    assert running.deadline(grace) == NOW + timedelta(seconds=90)
    assert a_run(status=S.QUEUED, started_at=NOW).deadline(grace) is None
    assert a_run(status=S.RUNNING).deadline(grace) is None


@pytest.mark.parametrize("status", [S.PENDING, S.QUEUED, S.RUNNING, S.SKIPPED])
def test_an_outcome_must_be_an_end_a_worker_can_report(status: RunStatus) -> None:
    with pytest.raises(ValueError, match="not an outcome"):
        RunOutcome(status=status)


@pytest.mark.parametrize(
    ("status", "retryable", "may_retry"),
    [
        (S.FAILED, True, True),
        (S.TIMED_OUT, True, True),
        (S.FAILED, False, False),
        (S.SUCCEEDED, True, False),
        (S.CANCELLED, True, False),
    ],
)
def test_only_retryable_failures_and_timeouts_may_retry(
    status: RunStatus, retryable: bool, may_retry: bool
) -> None:
    assert RunOutcome(status=status, retryable=retryable).may_retry is may_retry


class TestNextAttempt:
    def failed(self, attempt: int = 1) -> TaskRun:
        return a_run(
            id=5,
            task_id=3,
            attempt=attempt,
            status=S.FAILED,
            trigger=Trigger.MANUAL,
            task_type=TaskType.HTTP,
            priority=Priority.HIGH,
            timeout_seconds=90,
            arguments={"x": 1},
            idempotency_key="once",
            worker_id="w1",
            retry_count=attempt - 1,
        )

    def test_the_next_attempt_is_a_pending_retry_after_the_delay(self) -> None:
        retry = self.failed().next_attempt(RetryPolicy(max_retries=2), NOW, 12.5)

        assert retry is not None
        assert (retry.id, retry.task_id, retry.attempt, retry.status) == (0, 3, 2, S.PENDING)
        assert (retry.trigger, retry.retry_count) == (Trigger.RETRY, 1)
        assert retry.scheduled_for == NOW + timedelta(seconds=12.5)
        assert (retry.task_type, retry.priority, retry.timeout_seconds) == (TaskType.HTTP, Priority.HIGH, 90)
        assert retry.arguments == {"x": 1}
        assert (retry.worker_id, retry.idempotency_key, retry.started_at) == (None, None, None)

    def test_the_next_attempt_keeps_the_traceparent_of_the_run(self) -> None:
        policy = RetryPolicy(max_retries=2)

        retry = a_run(status=S.FAILED, traceparent=TRACEPARENT).next_attempt(policy, NOW, 1)
        untraced = self.failed().next_attempt(policy, NOW, 1)

        assert retry is not None
        assert untraced is not None
        assert (retry.traceparent, untraced.traceparent) == (TRACEPARENT, None)

    def test_the_retry_count_follows_the_attempt(self) -> None:
        retry = self.failed(attempt=3).next_attempt(RetryPolicy(max_retries=5), NOW, 0)

        assert retry is not None
        assert (retry.attempt, retry.retry_count) == (4, 3)

    @pytest.mark.parametrize(("attempt", "max_retries"), [(1, 0), (3, 2), (4, 2)])
    def test_none_when_the_policy_is_exhausted(self, attempt: int, max_retries: int) -> None:
        assert self.failed(attempt).next_attempt(RetryPolicy(max_retries=max_retries), NOW, 1) is None

    @pytest.mark.parametrize("status", [S.PENDING, S.QUEUED, S.RUNNING])
    def test_none_while_the_run_has_not_ended(self, status: RunStatus) -> None:
        assert a_run(status=status).next_attempt(RetryPolicy(max_retries=3), NOW, 1) is None

    @pytest.mark.parametrize("status", [S.SUCCEEDED, S.CANCELLED, S.SKIPPED])
    def test_none_after_an_end_that_is_not_a_failure(self, status: RunStatus) -> None:
        assert a_run(status=status).next_attempt(RetryPolicy(max_retries=3), NOW, 1) is None

    def test_a_timed_out_run_is_retried(self) -> None:
        retry = a_run(status=S.TIMED_OUT).next_attempt(RetryPolicy(max_retries=1), NOW, 1)

        assert retry is not None
        assert retry.attempt == 2
