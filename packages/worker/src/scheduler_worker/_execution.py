"""One run a worker took: the task executing it, and why it was asked to stop."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from scheduler_domain import RunDispatch, RunOutcome, RunStatus
from scheduler_errors import InvalidInput
from scheduler_foundation import ExecutorRegistry

logger = logging.getLogger(__name__)

SHUTTING_DOWN = "worker shutting down"
#: The reason the dispatcher gives when it stops an overdue run; reported as `timed_out`.
TIMED_OUT = "timed out"


@dataclass(eq=False)
class Execution:
    """A run taken by this worker; `request_stop` cancels its executor."""

    dispatch: RunDispatch
    worker_id: str
    task: asyncio.Task[RunOutcome] | None = None
    stop_reason: str | None = None

    def request_stop(self, reason: str) -> None:
        """Cancel the execution (the first reason given is the one reported)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        if self.task is not None:
            self.task.cancel()

    async def run(self, executors: ExecutorRegistry) -> RunOutcome:
        """Execute the run and say how it ended; never raises for a failure of the run."""
        if self.stop_reason is not None:
            return stopped_outcome(self.stop_reason)
        try:
            executor = executors.get(self.dispatch.executor)
        except InvalidInput as exc:
            return RunOutcome(status=RunStatus.FAILED, error_message=exc.detail, retryable=False)
        self.task = asyncio.create_task(executor.execute(self.dispatch))
        try:
            await asyncio.wait({self.task})
        finally:
            # A no-op once the task is done; should this coroutine be cancelled, the executor
            # must not outlive it.
            self.task.cancel()
        return self._outcome(self.task)

    def _outcome(self, task: asyncio.Task[RunOutcome]) -> RunOutcome:
        if task.cancelled():
            return stopped_outcome(self.stop_reason or SHUTTING_DOWN)
        error = task.exception()
        if error is None:
            return task.result()
        logger.error(
            "executor %s raised",
            self.dispatch.executor,
            exc_info=error,
            extra={
                "run_id": self.dispatch.run_id,
                "attempt": self.dispatch.attempt,
                "worker_id": self.worker_id,
            },
        )
        return RunOutcome(
            status=RunStatus.FAILED, error_message=f"executor {self.dispatch.executor} failed: {error!r}"
        )


def stopped_outcome(reason: str) -> RunOutcome:
    """The outcome of a run stopped for `reason`.

    `timed out` (from the dispatcher) ends `timed_out`. A worker shutting down ends the run
    `failed` and retryable, like a worker lost: the task did nothing wrong, so its retry policy
    decides whether another attempt runs. Any other reason is a cancel request: `cancelled`.
    """
    if reason == TIMED_OUT:
        return RunOutcome(status=RunStatus.TIMED_OUT, error_message=reason)
    if reason == SHUTTING_DOWN:
        return RunOutcome(status=RunStatus.FAILED, error_message=reason, retryable=True)
    return RunOutcome(status=RunStatus.CANCELLED, error_message=reason)
