"""The metered reporter counts the finishes a worker reported, with the time since their start."""

from __future__ import annotations

import pytest

from scheduler_domain import RunOutcome, RunStatus
from scheduler_errors import Unavailable
from scheduler_observability.metrics import Metrics
from scheduler_observability.worker_metrics import MeteredReporter, WorkerMetrics

SUCCEEDED = RunOutcome(status=RunStatus.SUCCEEDED)
FAILED = RunOutcome(status=RunStatus.FAILED, error_message="exit 1")


class FakeReporter:
    """Takes every report; says go unless told otherwise; refuses finishes while `down`."""

    def __init__(self, *, confirms_start: bool = False, go: bool = True) -> None:
        self.confirms_start = confirms_start
        self.go = go
        self.down = False
        self.finished: list[tuple[int, int, RunStatus]] = []

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        return self.go

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        if self.down:
            raise Unavailable("the broker does not answer")
        self.finished.append((run_id, attempt, outcome.status))


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


def metered(
    metrics: Metrics, clock: FakeMonotonic, reporter: FakeReporter | None = None
) -> tuple[MeteredReporter, FakeReporter]:
    inner = reporter or FakeReporter()
    return MeteredReporter(inner, WorkerMetrics(metrics, slots=4), monotonic=clock), inner


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


async def test_a_finish_after_a_start_counts_its_status_and_duration(
    metrics: Metrics, clock: FakeMonotonic
) -> None:
    reporter, inner = metered(metrics, clock)

    await reporter.start(7, 1, "w1")
    clock.now += 2.5
    await reporter.finish(7, 1, "w1", SUCCEEDED)

    assert inner.finished == [(7, 1, RunStatus.SUCCEEDED)]
    assert sample(metrics, "scheduler_worker_runs_finished_total", status="succeeded") == 1
    assert sample(metrics, "scheduler_worker_run_duration_seconds_count", status="succeeded") == 1
    assert sample(metrics, "scheduler_worker_run_duration_seconds_sum", status="succeeded") == 2.5
    assert sample(metrics, "scheduler_worker_run_duration_seconds_bucket", status="succeeded", le="1.0") == 0
    assert sample(metrics, "scheduler_worker_run_duration_seconds_bucket", status="succeeded", le="5.0") == 1
    assert reporter.remembered_starts == 0


async def test_a_finish_without_a_start_counts_its_status_without_a_duration(
    metrics: Metrics, clock: FakeMonotonic
) -> None:
    reporter, _ = metered(metrics, clock)

    await reporter.finish(7, 1, "w1", FAILED)

    assert sample(metrics, "scheduler_worker_runs_finished_total", status="failed") == 1
    assert sample(metrics, "scheduler_worker_run_duration_seconds_count", status="failed") is None


async def test_a_start_of_another_attempt_does_not_time_this_one(
    metrics: Metrics, clock: FakeMonotonic
) -> None:
    reporter, _ = metered(metrics, clock)

    await reporter.start(7, 1, "w1")
    await reporter.finish(7, 2, "w1", FAILED)

    assert sample(metrics, "scheduler_worker_runs_finished_total", status="failed") == 1
    assert sample(metrics, "scheduler_worker_run_duration_seconds_count", status="failed") is None
    assert reporter.remembered_starts == 1


@pytest.mark.parametrize(("confirms_start", "go"), [(True, False), (True, True), (False, True)])
async def test_the_start_answer_and_confirms_start_pass_through(
    metrics: Metrics, clock: FakeMonotonic, confirms_start: bool, go: bool
) -> None:
    reporter, _ = metered(metrics, clock, FakeReporter(confirms_start=confirms_start, go=go))

    answer = await reporter.start(7, 1, "w1")

    assert answer is go
    assert reporter.confirms_start is confirms_start
    assert reporter.remembered_starts == (1 if go else 0)  # no finish follows a refused start


async def test_the_remembered_starts_do_not_grow_past_the_finishes(
    metrics: Metrics, clock: FakeMonotonic
) -> None:
    reporter, _ = metered(metrics, clock)

    for run_id in range(50):
        await reporter.start(run_id, 1, "w1")
        await reporter.finish(run_id, 1, "w1", SUCCEEDED)

    assert reporter.remembered_starts == 0
    assert sample(metrics, "scheduler_worker_runs_finished_total", status="succeeded") == 50
    assert sample(metrics, "scheduler_worker_run_duration_seconds_count", status="succeeded") == 50


async def test_a_finish_the_reporter_did_not_take_counts_nothing_and_is_forgotten(
    metrics: Metrics, clock: FakeMonotonic
) -> None:
    reporter, inner = metered(metrics, clock)
    await reporter.start(7, 1, "w1")
    inner.down = True

    with pytest.raises(Unavailable):
        await reporter.finish(7, 1, "w1", SUCCEEDED)

    assert sample(metrics, "scheduler_worker_runs_finished_total", status="succeeded") is None
    assert reporter.remembered_starts == 0


def test_the_slots_and_the_runs_held_are_read_at_scrape(metrics: Metrics) -> None:
    worker_metrics = WorkerMetrics(metrics, slots=4)
    held = [3]
    worker_metrics.watch(lambda: held[0])

    first = sample(metrics, "scheduler_worker_runs_active")
    held[0] = 1

    assert (first, sample(metrics, "scheduler_worker_runs_active")) == (3, 1)
    assert sample(metrics, "scheduler_worker_concurrency") == 4
    assert sample(metrics, "process_threads") is not None
