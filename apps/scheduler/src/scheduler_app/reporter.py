"""The worker's RunReporter for a worker living in the same process as the scheduler."""

from __future__ import annotations

from scheduler_application import RunLifecycle
from scheduler_domain import RunOutcome


class InProcessRunReporter:
    """Reports straight to the run-lifecycle use case (standalone mode)."""

    confirms_start = True

    def __init__(self, *, lifecycle: RunLifecycle) -> None:
        self._lifecycle = lifecycle

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Claim the run for execution."""
        return await self._lifecycle.start(run_id, attempt, worker_id)

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Record how the run ended."""
        await self._lifecycle.finish(run_id, attempt, worker_id, outcome)
