"""The metrics of `scheduler worker`: the runs it reported finished, how long they took, its slots.

A worker stores nothing, so its runs are counted where it reports them: `MeteredReporter` wraps its
run reporter. Served on the worker's own port (`MetricsEndpoint`) beside the process metrics of
`Metrics`; a worker that serves no metrics never loads this module, nor prometheus_client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from prometheus_client import Counter, Gauge, Histogram

from scheduler_domain import RunOutcome
from scheduler_observability.metrics import RUN_DURATION_BUCKETS, Metrics


class _RunReporter(Protocol):
    """What `MeteredReporter` forwards to: `scheduler_foundation.RunReporter`, a layer above."""

    @property
    def confirms_start(self) -> bool: ...

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool: ...

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None: ...


class WorkerMetrics:
    """The worker's metric families, registered beside the process metrics of `metrics`."""

    def __init__(self, metrics: Metrics, *, slots: int) -> None:
        self.metrics = metrics
        registry = metrics.registry
        self._finished = Counter(
            "scheduler_worker_runs_finished",
            "Runs this worker reported finished, by outcome status.",
            ["status"],
            registry=registry,
        )
        self._duration = Histogram(
            "scheduler_worker_run_duration_seconds",
            "From this worker's start report of a run attempt to its finish report, by outcome status.",
            ["status"],
            buckets=RUN_DURATION_BUCKETS,
            registry=registry,
        )
        self._active = Gauge(
            "scheduler_worker_runs_active",
            "Runs this worker holds now: claiming, executing or reporting (read at scrape).",
            registry=registry,
        )
        concurrency = Gauge(
            "scheduler_worker_concurrency", "Runs this worker can hold at once.", registry=registry
        )
        concurrency.set(slots)

    def watch(self, load: Callable[[], int]) -> None:
        """Read `scheduler_worker_runs_active` from `load` at each scrape (from the server's thread)."""
        self._active.set_function(load)

    def finished(self, status: str, seconds: float | None) -> None:
        """Count a run reported finished in `status`, and its duration when its start was seen."""
        self._finished.labels(status).inc()
        if seconds is not None:
            self._duration.labels(status).observe(max(seconds, 0.0))


class MeteredReporter:
    """A run reporter (`scheduler_foundation.RunReporter`) that counts in `metrics` the finishes it reported.

    It remembers when each run attempt's start was reported and forgets it at that attempt's
    finish, whether the reporter took the finish or not, so what it remembers cannot grow. A finish
    counts once the reporter took it, with the time since the start when the start was seen: a
    start refused or not taken is not remembered, nor is one whose first finish was not taken (the
    worker's retry of that finish counts without a duration).
    """

    def __init__(
        self,
        reporter: _RunReporter,
        metrics: WorkerMetrics,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.confirms_start = reporter.confirms_start
        self._reporter = reporter
        self._metrics = metrics
        self._monotonic = monotonic
        self._starts: dict[tuple[int, int], float] = {}

    @property
    def remembered_starts(self) -> int:
        """How many run attempts started and have not been reported finished yet."""
        return len(self._starts)

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """See `RunReporter.start`; remembers when a start that says go was reported."""
        at = self._monotonic()
        go = await self._reporter.start(run_id, attempt, worker_id)
        if go:
            self._starts[run_id, attempt] = at
        return go

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """See `RunReporter.finish`; counts the finish once the reporter took it."""
        at = self._monotonic()
        started = self._starts.pop((run_id, attempt), None)
        await self._reporter.finish(run_id, attempt, worker_id, outcome)
        self._metrics.finished(outcome.status.value, None if started is None else at - started)
