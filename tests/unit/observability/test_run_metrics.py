"""The metered run repository counts what the store stored: dispatches, ends, retries, durations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler_domain import RunOutcome, RunStatus, RunTransition, TaskRun, TaskType, Trigger
from scheduler_observability.metrics import Metrics
from scheduler_observability.run_metrics import MeteredRunRepository
from scheduler_testing import FakeTaskRunRepository, a_run

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED)
FAILED = RunOutcome(status=RunStatus.FAILED, error_message="exit 1")


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def runs(metrics: Metrics) -> MeteredRunRepository:
    return MeteredRunRepository(FakeTaskRunRepository(), metrics)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """The value of one sample, 0 when the series does not exist yet."""
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def a_running_run(runs: MeteredRunRepository, task_type: TaskType = TaskType.SHELL) -> TaskRun:
    run = await runs.add(a_run(task_id=1, task_type=task_type))
    queued = run.queued(T0)
    await runs.transition(queued, expected=RunStatus.PENDING)
    started = queued.started("w1", T0)
    await runs.transition(started, expected=RunStatus.QUEUED)
    return started


async def test_an_end_is_counted_by_task_type_and_status_with_its_duration(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    running = await a_running_run(runs, TaskType.PYTHON)

    await runs.transition(running.finished(SUCCEEDED, T0 + timedelta(seconds=2)), expected=RunStatus.RUNNING)

    assert sample(metrics, "scheduler_runs_ended_total", task_type="python", status="succeeded") == 1
    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="succeeded") == 0
    duration = {"task_type": "python", "status": "succeeded"}
    assert sample(metrics, "scheduler_run_duration_seconds_count", **duration) == 1
    assert sample(metrics, "scheduler_run_duration_seconds_sum", **duration) == 2.0
    assert sample(metrics, "scheduler_run_duration_seconds_bucket", le="1.0", **duration) == 0
    assert sample(metrics, "scheduler_run_duration_seconds_bucket", le="5.0", **duration) == 1


async def test_a_change_the_store_refused_counts_nothing(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    running = await a_running_run(runs)
    ended = running.finished(SUCCEEDED, T0)
    await runs.transition(ended, expected=RunStatus.RUNNING)

    again = await runs.transition(ended, expected=RunStatus.RUNNING)  # a repeated report

    assert again is None
    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="succeeded") == 1


async def test_moves_between_unfinished_statuses_are_no_ends(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    await a_running_run(runs)

    lines = metrics.exposition().decode().splitlines()
    assert [line for line in lines if line.startswith("scheduler_runs_ended")] == []
    assert [line for line in lines if line.startswith("scheduler_run_duration")] == []


async def test_a_failure_with_a_retry_counts_the_end_and_the_retry(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    running = await a_running_run(runs)
    retry = a_run(task_id=1, attempt=2, trigger=Trigger.RETRY)

    await runs.transition(running.finished(FAILED, T0), expected=RunStatus.RUNNING, follow_up=retry)

    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="failed") == 1
    assert sample(metrics, "scheduler_runs_retried_total", task_type="shell") == 1


async def test_a_batch_counts_only_the_changes_stored(runs: MeteredRunRepository, metrics: Metrics) -> None:
    first, second = await a_running_run(runs), await a_running_run(runs)
    stale = second.finished(SUCCEEDED, T0)
    await runs.transition(stale, expected=RunStatus.RUNNING)

    results = await runs.transition_many(
        [
            RunTransition(run=first.finished(FAILED, T0), expected=RunStatus.RUNNING),
            RunTransition(run=stale, expected=RunStatus.RUNNING),  # already ended: refused
        ]
    )

    assert [result is not None for result in results] == [True, False]
    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="failed") == 1
    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="succeeded") == 1


async def test_a_cancel_before_the_start_is_an_end_without_a_duration(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    pending = await runs.add(a_run(task_id=1))

    await runs.transition(pending.cancelled(T0), expected=RunStatus.PENDING)

    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="cancelled") == 1
    assert (
        metrics.registry.get_sample_value(
            "scheduler_run_duration_seconds_count", {"task_type": "shell", "status": "cancelled"}
        )
        is None
    )


async def test_skipped_waiting_runs_are_ends_and_released_ones_are_not(
    runs: MeteredRunRepository, metrics: Metrics
) -> None:
    doomed = await runs.add(a_run(task_id=1, waiting=True))
    freed = await runs.add(a_run(task_id=2, waiting=True))

    await runs.settle_waiting([doomed.skipped(T0, "upstream failed"), freed.released(T0)])

    assert sample(metrics, "scheduler_runs_ended_total", task_type="shell", status="skipped") == 1
    assert (
        metrics.registry.get_sample_value(
            "scheduler_runs_ended_total", {"task_type": "shell", "status": "pending"}
        )
        is None
    )


async def test_claimed_runs_are_counted_as_dispatched(runs: MeteredRunRepository, metrics: Metrics) -> None:
    for task_type in (TaskType.SHELL, TaskType.SHELL, TaskType.HTTP):
        await runs.add(a_run(task_id=1, task_type=task_type, scheduled_for=T0))

    claimed = await runs.claim_pending(T0, limit=10)

    assert len(claimed) == 3
    assert sample(metrics, "scheduler_runs_dispatched_total", task_type="shell") == 2
    assert sample(metrics, "scheduler_runs_dispatched_total", task_type="http") == 1


def test_the_pool_and_the_key_lookups_are_read_at_each_scrape(metrics: Metrics) -> None:
    stats = {"pool_size": 4, "pool_available": 1, "pool_max": 10, "requests_waiting": 2, "requests_num": 7}
    stats |= {"requests_wait_ms": 1500, "requests_errors": 1, "connections_errors": 2, "connections_lost": 3}
    lookups = {"cached": 5, "read": 1}
    metrics.watch_pool(lambda: stats)
    metrics.watch_key_lookups(lambda: lookups)

    lookups["cached"] = 9  # read at scrape, not when watched
    assert sample(metrics, "scheduler_db_pool_connections", state="in_use") == 3
    assert sample(metrics, "scheduler_db_pool_connections", state="idle") == 1
    assert sample(metrics, "scheduler_db_pool_max_connections") == 10
    assert sample(metrics, "scheduler_db_pool_waiting") == 2
    assert sample(metrics, "scheduler_db_pool_requests_total") == 7
    assert sample(metrics, "scheduler_db_pool_wait_seconds_total") == 1.5
    assert sample(metrics, "scheduler_db_pool_errors_total") == 6
    assert sample(metrics, "scheduler_api_key_lookups_total", found="cached") == 9
    assert sample(metrics, "scheduler_api_key_lookups_total", found="read") == 1


def test_a_pool_that_cannot_say_leaves_its_figures_out_of_the_scrape(metrics: Metrics) -> None:
    def closing() -> dict[str, int]:
        raise RuntimeError("the pool is closed")

    metrics.watch_pool(closing)

    exposition = metrics.exposition().decode()
    assert "scheduler_db_pool" not in exposition
    assert "process_resident_memory_bytes" in exposition
