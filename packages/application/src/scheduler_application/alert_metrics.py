"""The values alert rules watch, read from the store at each evaluation.

What `SystemOverview` answers (unfinished runs by status through the status index, tasks by
status, the workers' rows) gives every metric but one; `runs_failed_per_minute` also counts the
runs that ended `failed` or `timed_out` (through the same index), and only when a rule watches it:
the rate is the change of that count since the previous evaluation, per minute of clock time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from scheduler_application.overview import SystemOverview, SystemState
from scheduler_domain import RunStatus, TaskRunRepository, WorkerStatus
from scheduler_errors import SchedulerError
from scheduler_foundation import Clock

logger = logging.getLogger(__name__)

#: The statuses whose count `runs_failed_per_minute` follows.
FAILED = (RunStatus.FAILED, RunStatus.TIMED_OUT)
FAILURE_RATE = "runs_failed_per_minute"
STORE_READABLE = "store_readable"

#: The metrics read off the system overview, and how.
FROM_OVERVIEW: dict[str, Callable[[SystemState], float]] = {
    "runs_pending": lambda state: state.runs[RunStatus.PENDING],
    "runs_queued": lambda state: state.runs[RunStatus.QUEUED],
    "runs_running": lambda state: state.runs[RunStatus.RUNNING],
    "workers_online": lambda state: state.workers[WorkerStatus.ONLINE],
    "worker_slots_free": lambda state: max(state.slots - state.busy_slots, 0),
    "worker_busy_ratio": lambda state: min(state.busy_slots / state.slots, 1.0) if state.slots else 0.0,
}
#: Every metric a rule can name (the settings' `ALERT_METRICS`).
METRICS = frozenset({*FROM_OVERVIEW, FAILURE_RATE, STORE_READABLE})


class AlertMetrics:
    """Reads the metrics rules watch; remembers the failed-run count between reads for the rate."""

    def __init__(self, *, overview: SystemOverview, runs: TaskRunRepository, clock: Clock) -> None:
        self._overview = overview
        self._runs = runs
        self._clock = clock
        self._last_failed: tuple[datetime, int] | None = None

    async def read(self, wanted: Collection[str]) -> dict[str, float | None]:
        """The values of `wanted` now; None for a value there is none of (the store did not answer,
        or the first read of a rate). `store_readable` always has one."""
        values: dict[str, float | None] = dict.fromkeys(wanted)
        try:
            # The rate's count alone proves the store readable; any other metric needs the overview.
            if FROM_OVERVIEW.keys() & values.keys() or FAILURE_RATE not in values:
                state = await self._overview.current()
                values |= {name: read(state) for name, read in FROM_OVERVIEW.items() if name in values}
            if FAILURE_RATE in values:
                values[FAILURE_RATE] = await self._failure_rate()
        except SchedulerError as exc:
            logger.warning("alert evaluation cannot read the store", extra={"error": str(exc)})
            values = dict.fromkeys(wanted)
            values[STORE_READABLE] = 0.0
            return values
        values[STORE_READABLE] = 1.0
        return values

    def forget(self) -> None:
        """Drop the remembered count: the next rate is measured from the next read."""
        self._last_failed = None

    async def _failure_rate(self) -> float | None:
        now = self._clock.now()
        counts = await self._runs.count_by_status(FAILED)
        failed = sum(counts.values())
        last, self._last_failed = self._last_failed, (now, failed)
        if last is None:
            return None
        minutes = (now - last[0]).total_seconds() / 60
        return max(failed - last[1], 0) / minutes if minutes > 0 else None
