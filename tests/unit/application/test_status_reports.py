"""StatusReports against the fakes: batches of worker reports, applied once, in as few writes as can be."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from scheduler_application import ReportResult, RunLifecycle, StatusReports
from scheduler_domain import (
    CancelRun,
    RunFinished,
    RunOutcome,
    RunStarted,
    RunStatus,
    RunTransition,
    StatusReport,
    TaskRun,
    Trigger,
    worker_command_key,
)
from scheduler_errors import Unavailable
from scheduler_testing import (
    FakeClock,
    FakeMessageQueue,
    FakeTaskRepository,
    FakeTaskRunRepository,
    a_run,
    a_task,
)

from .conftest import START

S = ReportResult
EARLIER = START - timedelta(seconds=3)
SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED, exit_code=0, result={"rows": 3})
FAILED = RunOutcome(status=RunStatus.FAILED, exit_code=2, error_message="boom")


class CountingRuns(FakeTaskRunRepository):
    """The fake run store, counting reads and writes, and able to let another writer in between."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: dict[str, int] = {"get": 0, "get_many": 0, "transition": 0, "transition_many": 0}
        self.before_next_write: list[TaskRun] = []

    async def get(self, run_id: int) -> TaskRun:
        self.calls["get"] += 1
        return await super().get(run_id)

    async def get_many(self, run_ids: Any) -> dict[int, TaskRun]:
        self.calls["get_many"] += 1
        return await super().get_many(run_ids)

    async def transition_many(self, changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        self.calls["transition_many"] += 1
        for concurrent in self.before_next_write:  # another writer got there between read and write
            self.rows[concurrent.id] = concurrent
        self.before_next_write = []
        return await super().transition_many(changes)


@pytest.fixture
def runs() -> CountingRuns:
    return CountingRuns()


@pytest.fixture
def reports(
    runs: CountingRuns,
    tasks: FakeTaskRepository,
    lifecycle: RunLifecycle,
    queue: FakeMessageQueue,
    clock: FakeClock,
) -> StatusReports:
    return StatusReports(runs=runs, tasks=tasks, lifecycle=lifecycle, queue=queue, clock=clock)


async def queued(
    runs: CountingRuns, tasks: FakeTaskRepository, count: int = 1, **fields: Any
) -> list[TaskRun]:
    if not tasks.rows:
        await tasks.add(a_task(name="task-1", max_retries=2, retry_backoff_seconds=10))
    return [await runs.add(a_run(status=RunStatus.QUEUED, queued_at=EARLIER, **fields)) for _ in range(count)]


def started(
    run: TaskRun, worker: str = "w-1", *, attempt: int | None = None, at: datetime = EARLIER
) -> RunStarted:
    return RunStarted(run_id=run.id, attempt=attempt or run.attempt, worker_id=worker, at=at)


def finished(
    run: TaskRun, outcome: RunOutcome = SUCCEEDED, worker: str = "w-1", *, at: datetime = START
) -> RunFinished:
    return RunFinished(run_id=run.id, attempt=run.attempt, worker_id=worker, outcome=outcome, at=at)


def cancels(queue: FakeMessageQueue, worker: str = "w-1") -> list[CancelRun]:
    return [message.payload for message in queue.messages(worker_command_key(worker))]  # type: ignore[misc]


async def test_a_batch_is_one_read_and_one_write_however_many_reports(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    batch = await queued(runs, tasks, 50)
    report_list: list[StatusReport] = [started(run) for run in batch] + [finished(run) for run in batch]

    results = await reports.apply_reports(report_list)

    assert results == [S.APPLIED] * 100
    assert {runs.rows[run.id].status for run in batch} == {RunStatus.SUCCEEDED}
    assert runs.calls == {"get": 0, "get_many": 1, "transition": 0, "transition_many": 1}


async def test_a_start_and_an_end_are_folded_into_the_run_as_the_worker_saw_them(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    (run,) = await queued(runs, tasks)

    await reports.apply_reports([started(run, at=EARLIER), finished(run, at=START)])

    stored = runs.rows[run.id]
    assert (stored.status, stored.worker_id, stored.exit_code, stored.result) == (
        RunStatus.SUCCEEDED,
        "w-1",
        0,
        {"rows": 3},
    )
    assert (stored.started_at, stored.completed_at) == (EARLIER, START)


async def test_a_worker_clock_running_ahead_is_not_believed(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    (run,) = await queued(runs, tasks)

    await reports.apply_reports([started(run, at=START + timedelta(hours=1))])

    assert runs.rows[run.id].started_at == START


async def test_duplicates_change_nothing_within_a_batch_or_later(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    (run,) = await queued(runs, tasks)

    first = await reports.apply_reports([started(run), started(run), finished(run), finished(run)])
    after_first = runs.rows[run.id]
    again = await reports.apply_reports([started(run), finished(run, FAILED)])

    assert first == [S.APPLIED, S.IGNORED, S.APPLIED, S.IGNORED]
    assert again == [S.IGNORED, S.IGNORED]
    assert runs.rows[run.id] == after_first
    assert queue.published == []


async def test_an_end_that_overtakes_its_start_wins_and_the_late_start_is_ignored(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    one, two = await queued(runs, tasks, 2)

    in_one_batch = await reports.apply_reports([finished(one), started(one)])
    await reports.apply_reports([finished(two, FAILED)])
    in_a_later_batch = await reports.apply_reports([started(two)])

    assert in_one_batch == [S.APPLIED, S.IGNORED]
    assert in_a_later_batch == [S.IGNORED]
    assert (runs.rows[one.id].status, runs.rows[two.id].status) == (RunStatus.SUCCEEDED, RunStatus.FAILED)
    assert queue.published == []


async def test_reports_of_a_stale_attempt_are_ignored_and_its_start_is_stopped(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    (run,) = await queued(runs, tasks, attempt=2)
    stale_end = RunFinished(run_id=run.id, attempt=1, worker_id="w-1", outcome=SUCCEEDED, at=START)

    results = await reports.apply_reports([started(run, attempt=1), stale_end])

    assert results == [S.REFUSED, S.IGNORED]
    assert runs.rows[run.id] == run
    assert cancels(queue) == [
        CancelRun(run_id=run.id, attempt=1, reason="attempt 1 was superseded by attempt 2")
    ]


async def test_the_start_of_a_run_cancelled_while_queued_is_refused_and_the_worker_told_to_stop(
    reports: StatusReports,
    runs: CountingRuns,
    tasks: FakeTaskRepository,
    queue: FakeMessageQueue,
    clock: FakeClock,
) -> None:
    (run,) = await queued(runs, tasks)
    cancelled = run.cancelled(clock.now(), "not needed")
    runs.rows[run.id] = cancelled

    results = await reports.apply_reports([started(run), started(run)])
    late_end = await reports.apply_reports([finished(run, RunOutcome(status=RunStatus.CANCELLED))])

    assert results == [S.REFUSED, S.REFUSED]
    assert late_end == [S.IGNORED]
    assert runs.rows[run.id] == cancelled
    assert cancels(queue) == [CancelRun(run_id=run.id, attempt=1, reason="cancelled before it started")]
    [(_, message, priority)] = queue.published
    assert (message.correlation_id, priority) == (str(run.id), 3)


async def test_a_second_worker_starting_a_running_run_is_stopped_and_its_end_ignored(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    (run,) = await queued(runs, tasks)
    await reports.apply_reports([started(run, "w-1")])

    results = await reports.apply_reports([started(run, "w-2"), finished(run, FAILED, "w-2")])

    assert results == [S.REFUSED, S.IGNORED]
    assert (runs.rows[run.id].status, runs.rows[run.id].worker_id) == (RunStatus.RUNNING, "w-1")
    assert [c.reason for c in cancels(queue, "w-2")] == ["the run is already running on worker w-1"]
    assert cancels(queue, "w-1") == []


async def test_reports_of_an_unknown_run_are_refused_or_ignored(
    reports: StatusReports, queue: FakeMessageQueue
) -> None:
    ghost = a_run(id=404)

    results = await reports.apply_reports([started(ghost), finished(ghost)])

    assert results == [S.REFUSED, S.IGNORED]
    assert [c.reason for c in cancels(queue)] == ["the run no longer exists"]


async def test_a_failure_follows_the_retry_policy_in_the_same_write(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    one, two = await queued(runs, tasks, 2)

    await reports.apply_reports([finished(one, FAILED), finished(two, FAILED)])

    retries = [r for r in runs.rows.values() if r.trigger is Trigger.RETRY]
    assert sorted((r.attempt, r.status) for r in retries) == [(2, RunStatus.PENDING)] * 2
    assert all(r.scheduled_for is not None and r.scheduled_for > START for r in retries)
    assert runs.calls["transition_many"] == 1


async def test_a_run_changed_between_read_and_write_is_read_again(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository, queue: FakeMessageQueue
) -> None:
    moved, untouched = await queued(runs, tasks, 2)
    runs.before_next_write = [moved.cancelled(START, "cancelled by request")]

    results = await reports.apply_reports([started(moved), started(untouched)])

    assert results == [S.REFUSED, S.APPLIED]
    assert (runs.rows[moved.id].status, runs.rows[untouched.id].status) == (
        RunStatus.CANCELLED,
        RunStatus.RUNNING,
    )
    assert [c.run_id for c in cancels(queue)] == [moved.id]
    assert runs.calls["get_many"] == 2


async def test_runs_that_keep_changing_make_the_batch_unavailable(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    (run,) = await queued(runs, tasks)

    async def always_changed(changes: Sequence[RunTransition]) -> list[TaskRun | None]:
        return [None for _ in changes]

    runs.transition_many = always_changed  # type: ignore[method-assign]

    with pytest.raises(Unavailable):
        await reports.apply_reports([started(run)])


async def test_an_empty_batch_does_nothing(reports: StatusReports, runs: CountingRuns) -> None:
    assert await reports.apply_reports([]) == []
    assert runs.calls["transition_many"] == 0


async def test_an_upstream_run_ended_in_a_batch_settles_its_downstream_as_the_lifecycle_does(
    reports: StatusReports, runs: CountingRuns, tasks: FakeTaskRepository
) -> None:
    upstream = await tasks.add(a_task(name="a", max_retries=1))
    downstream = await tasks.add(a_task(name="b", dependencies=(upstream.id,)))
    succeeds, fails, fails_for_good = [
        await runs.add(a_run(task_id=upstream.id, status=RunStatus.QUEUED, attempt=attempt))
        for attempt in (1, 1, 2)
    ]

    await reports.apply_reports(
        [finished(succeeds), finished(fails, FAILED), finished(fails_for_good, FAILED)]
    )

    below = {r.wave_id: (r.status, r.waiting) for r in runs.rows.values() if r.task_id == downstream.id}
    assert below == {succeeds.id: (RunStatus.PENDING, False), fails_for_good.id: (RunStatus.SKIPPED, False)}
