"""A report rides out an outage: real failures use up retries, an open breaker's refusals do not."""

from __future__ import annotations

import pytest

from scheduler_domain import RunOutcome, RunStatus
from scheduler_errors import Unavailable
from scheduler_worker import _reporting
from scheduler_worker._reporting import RetryingReporter

DONE = RunOutcome(status=RunStatus.SUCCEEDED)


class Flaky:
    """A reporter that fails with `errors`, in order, then takes the report."""

    confirms_start = False

    def __init__(self, *errors: Unavailable) -> None:
        self.errors = list(errors)
        self.calls = 0
        self.finished = 0

    async def start(self, run_id: int, attempt: int, worker_id: str) -> bool:
        raise NotImplementedError

    async def finish(self, run_id: int, attempt: int, worker_id: str, outcome: RunOutcome) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.finished += 1


def refused() -> Unavailable:
    return Unavailable("the circuit breaker of redis is open", retry_after=0.001)


async def test_refusals_of_an_open_breaker_use_up_no_retry() -> None:
    flaky = Flaky(Unavailable("down"), *[refused() for _ in range(10)], Unavailable("down"))

    await RetryingReporter(flaky, retries=2, backoff_seconds=0.001).finish(1, 1, "w", DONE)

    assert (flaky.calls, flaky.finished) == (13, 1)


async def test_real_failures_still_run_out_of_retries() -> None:
    flaky = Flaky(*[Unavailable("down") for _ in range(3)])

    with pytest.raises(Unavailable, match="down"):
        await RetryingReporter(flaky, retries=2, backoff_seconds=0.001).finish(1, 1, "w", DONE)

    assert (flaky.calls, flaky.finished) == (3, 0)


async def test_waiting_out_a_breaker_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_reporting, "MAX_BREAKER_WAIT_SECONDS", 0.005)
    flaky = Flaky(*[refused() for _ in range(1000)])

    with pytest.raises(Unavailable, match="open"):
        await RetryingReporter(flaky, retries=1, backoff_seconds=0.001).finish(1, 1, "w", DONE)

    assert flaky.calls < 20
