"""RunControl and RunLifecycle against the fakes: the stored runs and the published commands."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from scheduler_application import RunControl, RunLifecycle
from scheduler_domain import (
    CancelRun,
    RunOutcome,
    RunStatus,
    TaskRun,
    Trigger,
)
from scheduler_errors import Conflict, NotFound
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    a_run,
    a_task,
)

from .conftest import START

S = RunStatus


async def stored_run(runs: FakeTaskRunRepository, **fields: Any) -> TaskRun:
    """A run stored as given, of task 1 (stored first when a task store is wired, as a real one needs)."""
    if runs.tasks is not None and not runs.tasks.rows:
        await runs.tasks.add(a_task(name="task-1"))
    return await runs.add(a_run(**fields))


class TestCancel:
    @pytest.mark.parametrize("status", [S.PENDING, S.QUEUED])
    async def test_a_run_not_started_is_cancelled_at_once(
        self,
        run_control: RunControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        status: RunStatus,
    ) -> None:
        run = await stored_run(runs, status=status)

        await run_control.cancel(run.id, "not needed")

        stored = runs.rows[run.id]
        assert (stored.status, stored.completed_at, stored.error_message) == (
            S.CANCELLED,
            START,
            "not needed",
        )
        assert queue.published == []

    async def test_a_running_run_is_asked_to_stop_through_its_worker(
        self, run_control: RunControl, runs: FakeTaskRunRepository, queue: FakeMessageQueue
    ) -> None:
        run = await stored_run(runs, status=S.RUNNING, worker_id="w7", attempt=2, started_at=START)

        returned = await run_control.cancel(run.id, "operator said so")

        stored = runs.rows[run.id]
        assert (stored.status, stored.cancel_requested_at) == (S.RUNNING, START)
        assert returned == stored
        [(key, message, priority)] = queue.published
        assert key == "worker.command.w7"
        assert message.payload == CancelRun(run_id=run.id, attempt=2, reason="operator said so")
        assert priority == 3

    @pytest.mark.parametrize("status", [S.SUCCEEDED, S.FAILED, S.TIMED_OUT, S.CANCELLED, S.SKIPPED])
    async def test_a_finished_run_cannot_be_cancelled(
        self,
        run_control: RunControl,
        runs: FakeTaskRunRepository,
        queue: FakeMessageQueue,
        status: RunStatus,
    ) -> None:
        run = await stored_run(runs, status=status)

        with pytest.raises(Conflict):
            await run_control.cancel(run.id)

        assert runs.rows[run.id] == run
        assert queue.published == []

    async def test_an_unknown_run_is_not_found(self, run_control: RunControl) -> None:
        with pytest.raises(NotFound):
            await run_control.cancel(404)


@pytest.fixture
async def retrying_task_id(tasks: FakeTaskRepository) -> int:
    task = await tasks.add(a_task(max_retries=2, retry_backoff_seconds=10))
    return task.id


class TestStart:
    async def test_a_queued_run_starts_on_its_worker(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository
    ) -> None:
        run = await stored_run(runs, status=S.QUEUED)

        assert await lifecycle.start(run.id, 1, "w1")

        stored = runs.rows[run.id]
        assert (stored.status, stored.worker_id, stored.started_at) == (S.RUNNING, "w1", START)

    @pytest.mark.parametrize("status", [S.PENDING, S.RUNNING, S.CANCELLED, S.SUCCEEDED])
    async def test_only_a_queued_run_can_start(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, status: RunStatus
    ) -> None:
        run = await stored_run(runs, status=status, worker_id="w0")

        assert not await lifecycle.start(run.id, 1, "w1")

        assert runs.rows[run.id] == run

    async def test_only_the_current_attempt_can_start(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository
    ) -> None:
        run = await stored_run(runs, status=S.QUEUED, attempt=2)

        assert not await lifecycle.start(run.id, 1, "w1")

        assert runs.rows[run.id] == run

    async def test_an_unknown_run_does_not_start(self, lifecycle: RunLifecycle) -> None:
        assert not await lifecycle.start(404, 1, "w1")


class TestFinish:
    async def test_a_report_from_another_worker_than_the_runner_changes_nothing(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, worker_id="w1")

        assert await lifecycle.finish(run.id, 1, "w2", RunOutcome(status=S.SUCCEEDED)) is None

        assert runs.rows == {run.id: run}

    async def test_success_is_recorded_and_nothing_follows(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, worker_id="w1")
        outcome = RunOutcome(status=S.SUCCEEDED, exit_code=0, result={"stdout": "ok"})

        returned = await lifecycle.finish(run.id, 1, "w1", outcome)

        stored = runs.rows[run.id]
        assert returned == stored
        assert (stored.status, stored.exit_code, stored.result) == (S.SUCCEEDED, 0, {"stdout": "ok"})
        assert stored.completed_at == START
        assert list(runs.rows) == [run.id]

    async def test_a_failure_with_retries_left_schedules_the_next_attempt_after_the_backoff(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, worker_id="w1")

        await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.FAILED, exit_code=1, error_message="x"))

        assert runs.rows[run.id].status is S.FAILED
        [retry] = [r for r in runs.rows.values() if r.id != run.id]
        assert (retry.task_id, retry.attempt, retry.status) == (retrying_task_id, 2, S.PENDING)
        assert (retry.trigger, retry.retry_count) == (Trigger.RETRY, 1)
        assert retry.scheduled_for is not None
        assert START + timedelta(seconds=10) <= retry.scheduled_for <= START + timedelta(seconds=11)

    async def test_the_second_retry_waits_twice_as_long(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, attempt=2)

        await lifecycle.finish(run.id, 2, "w1", RunOutcome(status=S.FAILED))

        [retry] = [r for r in runs.rows.values() if r.id != run.id]
        assert retry.attempt == 3
        assert retry.scheduled_for is not None
        assert START + timedelta(seconds=20) <= retry.scheduled_for <= START + timedelta(seconds=22)

    async def test_a_failure_with_no_retries_left_has_no_follow_up(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, attempt=3)

        await lifecycle.finish(run.id, 3, "w1", RunOutcome(status=S.FAILED))

        assert runs.rows[run.id].status is S.FAILED
        assert list(runs.rows) == [run.id]

    @pytest.mark.parametrize(
        "outcome",
        [RunOutcome(status=S.FAILED, retryable=False), RunOutcome(status=S.CANCELLED)],
    )
    async def test_unretryable_ends_have_no_follow_up(
        self,
        lifecycle: RunLifecycle,
        runs: FakeTaskRunRepository,
        retrying_task_id: int,
        outcome: RunOutcome,
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING)

        await lifecycle.finish(run.id, 1, "w1", outcome)

        assert runs.rows[run.id].status is outcome.status
        assert list(runs.rows) == [run.id]

    async def test_a_failed_run_of_an_archived_task_is_not_retried(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, tasks: FakeTaskRepository
    ) -> None:
        task = await tasks.add(a_task(max_retries=5).archived(START))
        run = await stored_run(runs, task_id=task.id, status=S.RUNNING)

        await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.FAILED))

        assert list(runs.rows) == [run.id]

    async def test_a_duplicate_finish_changes_nothing(
        self,
        lifecycle: RunLifecycle,
        runs: FakeTaskRunRepository,
        retrying_task_id: int,
        clock: FakeClock,
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING)
        await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.FAILED))
        after_first = dict(runs.rows)
        clock.advance(5)

        again = await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.FAILED))
        other = await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.SUCCEEDED))

        assert (again, other) == (None, None)
        assert runs.rows == after_first

    async def test_a_stale_report_of_an_older_attempt_changes_nothing(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, attempt=2)

        assert await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.SUCCEEDED)) is None

        assert runs.rows == {run.id: run}

    async def test_a_report_for_a_run_not_yet_queued_changes_nothing(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository
    ) -> None:
        run = await stored_run(runs, status=S.PENDING)

        assert await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.SUCCEEDED)) is None

        assert runs.rows == {run.id: run}

    async def test_an_end_reported_before_the_start_was_applied_is_recorded(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository
    ) -> None:
        run = await stored_run(runs, status=S.QUEUED)

        await lifecycle.finish(run.id, 1, "w3", RunOutcome(status=S.SUCCEEDED))

        stored = runs.rows[run.id]
        assert (stored.status, stored.worker_id, stored.started_at) == (S.SUCCEEDED, "w3", START)

    async def test_an_unknown_run_is_ignored(self, lifecycle: RunLifecycle) -> None:
        assert await lifecycle.finish(404, 1, "w1", RunOutcome(status=S.SUCCEEDED)) is None


class TestTimeOut:
    async def test_time_out_ends_the_run_and_retries_it(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING, worker_id="w1")

        stored = await lifecycle.time_out(run, "no report within 60s")

        assert stored == runs.rows[run.id]
        assert (stored.status, stored.error_message, stored.completed_at) == (
            S.TIMED_OUT,
            "no report within 60s",
            START,
        )
        [retry] = [r for r in runs.rows.values() if r.id != run.id]
        assert (retry.attempt, retry.trigger) == (2, Trigger.RETRY)

    async def test_time_out_of_a_run_that_already_ended_changes_nothing(
        self, lifecycle: RunLifecycle, runs: FakeTaskRunRepository, retrying_task_id: int
    ) -> None:
        run = await stored_run(runs, task_id=retrying_task_id, status=S.RUNNING)
        await lifecycle.finish(run.id, 1, "w1", RunOutcome(status=S.SUCCEEDED))
        after_finish = dict(runs.rows)

        assert await lifecycle.time_out(run, "late") is None

        assert runs.rows == after_finish
