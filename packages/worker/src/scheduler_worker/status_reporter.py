"""The worker's RunReporter for a worker in a process of its own: reports go on the status queue."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from scheduler_domain import (
    STATUS_RUNS,
    Message,
    RunFinished,
    RunOutcome,
    RunReports,
    RunStarted,
    StatusReport,
)
from scheduler_foundation import Clock, Coalescer, MessageQueue

#: The most reports one status message carries.
MAX_REPORTS_PER_MESSAGE = 256

_ENCODE = msgspec.json.Encoder().encode


class QueueRunReporter:
    """Publishes `RunStarted` and `RunFinished` to the status queue, which the dispatchers apply.

    A report goes out at once when no other is being published; reports made while a publish is
    in flight go out together in the next one, as one `RunReports` message (so a busy worker
    shares its broker round trips instead of queueing behind them). A call returns once the
    broker holds its report; a broker that does not take it raises `Unavailable` (the worker
    retries). No answer comes back through the queue, so `start` always says go: a run that must
    not run (cancelled while queued, superseded) is stopped by the `CancelRun` a dispatcher sends
    when it refuses the start.
    """

    confirms_start = False

    def __init__(self, *, queue: MessageQueue, clock: Clock) -> None:
        self._queue = queue
        self._clock = clock
        self._outbox: Coalescer[StatusReport] = Coalescer(self._publish, max_batch=MAX_REPORTS_PER_MESSAGE)

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Report that the run started here; always True."""
        await self._outbox.submit(
            RunStarted(run_id=run_id, attempt=attempt, worker_id=worker_id, at=self._clock.now())
        )
        return True

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Report how the run ended (the dispatchers apply it once; a repeat changes nothing)."""
        at = self._clock.now()
        report = RunFinished(run_id=run_id, attempt=attempt, worker_id=worker_id, outcome=outcome, at=at)
        try:
            _ENCODE(report)
        except (TypeError, msgspec.EncodeError) as exc:
            # A result the queue cannot encode must not leave the run unreported, nor sink the
            # reports it would travel with.
            bare = _without_result(outcome, f"the result could not be reported: {exc}")
            report = RunFinished(run_id=run_id, attempt=attempt, worker_id=worker_id, outcome=bare, at=at)
        await self._outbox.submit(report)

    async def _publish(self, reports: Sequence[StatusReport]) -> None:
        """Send `reports` as one message; `Unavailable` when the broker does not take it."""
        first = reports[0]
        payload = first if len(reports) == 1 else RunReports(reports=list(reports))
        await self._queue.publish(STATUS_RUNS, Message(payload=payload, correlation_id=str(first.run_id)))


def _without_result(outcome: RunOutcome, note: str) -> RunOutcome:
    message = f"{outcome.error_message}; {note}" if outcome.error_message else note
    return RunOutcome(
        status=outcome.status,
        exit_code=outcome.exit_code,
        error_message=message,
        retryable=outcome.retryable,
    )
