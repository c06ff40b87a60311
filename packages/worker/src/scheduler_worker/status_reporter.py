"""The worker's RunReporter for a worker in a process of its own: reports go on the status queue."""

from __future__ import annotations

from scheduler_domain import STATUS_RUNS, Message, RunFinished, RunOutcome, RunStarted
from scheduler_errors import InvalidInput
from scheduler_foundation import Clock, MessageQueue


class QueueRunReporter:
    """Publishes `RunStarted` and `RunFinished` to the status queue, which the dispatchers apply.

    A publish returns once the broker holds the report; a broker that does not take it raises
    `Unavailable` (the worker retries). No answer comes back through the queue, so `start`
    always says go: a run that must not run (cancelled while queued, superseded) is stopped by
    the `CancelRun` a dispatcher sends when it refuses the start.
    """

    def __init__(self, *, queue: MessageQueue, clock: Clock) -> None:
        self._queue = queue
        self._clock = clock

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Report that the run started here; always True."""
        report = RunStarted(run_id=run_id, attempt=attempt, worker_id=worker_id, at=self._clock.now())
        await self._publish(report)
        return True

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Report how the run ended (the dispatchers apply it once; a repeat changes nothing)."""
        at = self._clock.now()
        report = RunFinished(run_id=run_id, attempt=attempt, worker_id=worker_id, outcome=outcome, at=at)
        try:
            await self._publish(report)
        except InvalidInput as exc:  # a result the queue cannot encode must not leave the run unreported
            bare = _without_result(outcome, f"the result could not be reported: {exc}")
            await self._publish(
                RunFinished(run_id=run_id, attempt=attempt, worker_id=worker_id, outcome=bare, at=at)
            )

    async def _publish(self, report: RunStarted | RunFinished) -> None:
        """Send `report`; `Unavailable` when the broker does not take it."""
        await self._queue.publish(STATUS_RUNS, Message(payload=report, correlation_id=str(report.run_id)))


def _without_result(outcome: RunOutcome, note: str) -> RunOutcome:
    message = f"{outcome.error_message}; {note}" if outcome.error_message else note
    return RunOutcome(
        status=outcome.status,
        exit_code=outcome.exit_code,
        error_message=message,
        retryable=outcome.retryable,
    )
