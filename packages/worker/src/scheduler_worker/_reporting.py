"""A run reporter that rides out short outages of the scheduler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from scheduler_domain import RunOutcome
from scheduler_errors import Unavailable
from scheduler_foundation import RunReporter

logger = logging.getLogger(__name__)

T = TypeVar("T")


#: The longest a report waits out an open circuit breaker in all (see `RetryingReporter`).
MAX_BREAKER_WAIT_SECONDS = 120.0


class RetryingReporter:
    """Forwards to a `RunReporter`, retrying `Unavailable` with exponential backoff.

    After `retries` retries the last `Unavailable` is raised; other errors are raised at once. A
    call refused at once by an open circuit breaker (an `Unavailable` with `retry_after`) did not
    reach the broker: it is tried again once the breaker may let it through, without using up a
    retry, for at most `MAX_BREAKER_WAIT_SECONDS` in all.
    """

    def __init__(self, reporter: RunReporter, *, retries: int, backoff_seconds: float) -> None:
        self._reporter = reporter
        self._retries = retries
        self._backoff = backoff_seconds

    @property
    def confirms_start(self) -> bool:
        """As the reporter it forwards to."""
        return self._reporter.confirms_start

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        """Claim the run; False when it must not run."""
        return await self._retrying(
            "start", lambda: self._reporter.start(run_id, attempt, worker_id), run_id, attempt, worker_id
        )

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        """Record how the run ended."""
        await self._retrying(
            "finish",
            lambda: self._reporter.finish(run_id, attempt, worker_id, outcome),
            run_id,
            attempt,
            worker_id,
        )

    async def _retrying(
        self, report: str, call: Callable[[], Awaitable[T]], run_id: int, attempt: int, worker_id: str
    ) -> T:
        retry, waited = 0, 0.0
        while True:
            try:
                return await call()
            except Unavailable as exc:
                refused = exc.retry_after is not None and waited < MAX_BREAKER_WAIT_SECONDS
                if retry == self._retries and not refused:
                    raise
                delay = max(exc.retry_after or 0.0, self._backoff) if refused else self._backoff * 2**retry
                if refused:
                    waited += delay
                else:
                    retry += 1
                logger.warning(
                    "reporting %s failed (%s); retrying in %.2f s",
                    report,
                    exc,
                    delay,
                    extra={"run_id": run_id, "attempt": attempt, "worker_id": worker_id},
                )
                await asyncio.sleep(delay)
