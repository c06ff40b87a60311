"""The circuit breaker's states, on a fake clock: closed, open, half-open, and back."""

from __future__ import annotations

import asyncio
import logging

import pytest

from scheduler_errors import Conflict, InvalidInput, NotFound, Unavailable
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker, CircuitOpen


class Outage(ConnectionError):
    """What an adapter's driver raises when the server is gone."""


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, Outage)


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def a_breaker(clock: Clock, *, threshold: int = 3, reset: float = 5.0, trials: int = 1) -> CircuitBreaker:
    return CircuitBreaker(
        "postgresql",
        failure_threshold=threshold,
        reset_timeout=reset,
        half_open_max_calls=trials,
        monotonic=clock,
    )


def fail(breaker: CircuitBreaker, error: BaseException | None = None) -> None:
    """One call that raises `error` (an outage by default) through the breaker."""
    with pytest.raises(type(error) if error else Outage), breaker.guard(is_outage):
        raise error or Outage("connection refused")


def succeed(breaker: CircuitBreaker) -> str:
    with breaker.guard(is_outage):
        return "answered"


def refused(breaker: CircuitBreaker) -> CircuitOpen:
    """The refusal of a call the breaker does not let through (the call is never made)."""
    made = []
    with pytest.raises(CircuitOpen) as caught, breaker.guard(is_outage):
        made.append("call")
    assert made == []
    return caught.value


def test_it_opens_after_the_threshold_of_failures_in_a_row(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=3)

    fail(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    assert succeed(breaker) == "answered"  # still closed: calls go through
    fail(breaker)
    fail(breaker)
    fail(breaker)

    assert breaker.state is BreakerState.OPEN
    assert breaker.times_opened == 1


def test_an_open_breaker_refuses_at_once_naming_the_component_and_when_it_tries_again(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=2, reset=5.0)
    fail(breaker)
    fail(breaker, Outage("connection to 127.0.0.1:5432 refused"))
    clock.advance(1.5)

    refusal = refused(breaker)

    assert isinstance(refusal, Unavailable)
    assert refusal.component == "postgresql"
    assert refusal.retry_after == pytest.approx(3.5)
    message = str(refusal)
    assert message.startswith("postgresql is unavailable: its circuit breaker is open after 2 failures")
    assert "connection to 127.0.0.1:5432 refused" in message
    assert "a trial call goes through in 3.5 s" in message
    assert "\n" not in message


def test_a_success_resets_the_count(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=3)

    for _ in range(4):
        fail(breaker)
        fail(breaker)
        succeed(breaker)

    assert breaker.state is BreakerState.CLOSED
    assert breaker.times_opened == 0
    for _ in range(3):
        fail(breaker)
    assert breaker.state is BreakerState.OPEN


@pytest.mark.parametrize(
    "answer",
    [
        Conflict("a task named 'x' already exists"),
        NotFound("task", 7),
        InvalidInput("bad cron"),
        KeyError("x"),
    ],
)
def test_an_error_that_is_no_outage_neither_counts_nor_resets(clock: Clock, answer: Exception) -> None:
    breaker = a_breaker(clock, threshold=3)

    for _ in range(10):
        fail(breaker, answer)
    assert breaker.state is BreakerState.CLOSED

    fail(breaker)
    fail(breaker)
    fail(breaker, answer)  # not a success: the two failures before it still count
    fail(breaker)
    assert breaker.state is BreakerState.OPEN


def test_after_the_reset_timeout_one_trial_goes_through_and_its_success_closes_it(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = a_breaker(clock, threshold=1, reset=5.0)
    fail(breaker)
    clock.advance(4.9)
    assert breaker.state is BreakerState.OPEN
    refused(breaker)
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN

    with caplog.at_level(logging.INFO, logger="scheduler_infrastructure.breaker"), breaker.guard(is_outage):
        # the trial is under way: every other call is refused meanwhile
        assert refused(breaker).retry_after == 1.0
        assert breaker.state is BreakerState.HALF_OPEN

    assert breaker.state is BreakerState.CLOSED
    assert succeed(breaker) == "answered"
    closed = [record for record in caplog.records if "closed" in record.getMessage()]
    assert len(closed) == 1
    assert closed[0].levelno == logging.INFO
    assert closed[0].__dict__["component"] == "postgresql"


def test_a_failed_trial_opens_it_again_for_another_reset_timeout(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=2, reset=5.0)
    fail(breaker)
    fail(breaker)
    clock.advance(5.0)

    fail(breaker, Outage("still refused"))

    assert breaker.state is BreakerState.OPEN
    refusal = refused(breaker)
    assert refusal.retry_after == pytest.approx(5.0)
    assert "a failed trial call (still refused)" in str(refusal)
    assert breaker.times_opened == 1  # the same outage: counted once
    clock.advance(5.0)
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED


def test_a_trial_that_ends_in_an_error_that_is_no_outage_lets_the_next_call_be_the_trial(
    clock: Clock,
) -> None:
    breaker = a_breaker(clock, threshold=1)
    fail(breaker)
    clock.advance(5.0)

    fail(breaker, Conflict("taken"))

    assert breaker.state is BreakerState.HALF_OPEN
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED


def test_half_open_max_calls_trials_go_through_at_once(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=1, trials=2)
    fail(breaker)
    clock.advance(5.0)

    with breaker.guard(is_outage), breaker.guard(is_outage):
        refused(breaker)


def test_outcomes_of_calls_admitted_before_it_last_changed_state_are_ignored(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=2)
    slow_failure, slow_success = breaker.guard(is_outage), breaker.guard(is_outage)
    slow_failure.__enter__()
    slow_success.__enter__()
    fail(breaker)
    fail(breaker)
    assert breaker.state is BreakerState.OPEN

    slow_success.__exit__(None, None, None)  # answered, but from before the outage was seen
    assert breaker.state is BreakerState.OPEN
    clock.advance(5.0)
    succeed(breaker)
    slow_failure.__exit__(Outage, Outage("late"), None)  # no second count in the new closed period
    fail(breaker)

    assert breaker.state is BreakerState.CLOSED


def test_a_cancelled_trial_frees_its_place(clock: Clock) -> None:
    breaker = a_breaker(clock, threshold=1)
    fail(breaker)
    clock.advance(5.0)

    fail(breaker, asyncio.CancelledError())

    assert breaker.state is BreakerState.HALF_OPEN
    succeed(breaker)
    assert breaker.state is BreakerState.CLOSED


def test_a_threshold_of_zero_is_no_breaker(clock: Clock) -> None:
    off, on = a_breaker(clock, threshold=0), a_breaker(clock, threshold=1)

    for _ in range(100):
        fail(off)
    fail(on)

    assert (off.enabled, on.enabled) == (False, True)
    assert off.state is BreakerState.CLOSED
    assert succeed(off) == "answered"
    assert on.state is BreakerState.OPEN


def test_it_logs_one_warning_when_it_opens_and_nothing_per_refused_call(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    breaker = a_breaker(clock, threshold=2)

    with caplog.at_level(logging.DEBUG, logger="scheduler_infrastructure.breaker"):
        fail(breaker)
        fail(breaker, Outage("refused"))
        for _ in range(50):
            refused(breaker)

    records = [record for record in caplog.records if record.levelno >= logging.INFO]
    assert len(records) == 1
    (opened,) = records
    assert opened.levelno == logging.WARNING
    assert "circuit breaker opened" in opened.getMessage()
    assert opened.__dict__["component"] == "postgresql"
    assert opened.__dict__["failures"] == 2
    assert opened.__dict__["error"] == "refused"


async def test_concurrent_calls_that_fail_together_open_it_once() -> None:
    breaker = CircuitBreaker("redis", failure_threshold=3, reset_timeout=60)
    both_in = asyncio.Barrier(10)

    async def call() -> None:
        with breaker.guard(is_outage):
            await both_in.wait()
            raise Outage("connection lost")

    outcomes = await asyncio.gather(*(call() for _ in range(10)), return_exceptions=True)

    assert all(isinstance(outcome, Outage) for outcome in outcomes)
    assert breaker.state is BreakerState.OPEN
    assert breaker.times_opened == 1


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"failure_threshold": -1}, "failure_threshold"),
        ({"reset_timeout": 0}, "reset_timeout"),
        ({"half_open_max_calls": 0}, "half_open_max_calls"),
    ],
)
def test_settings_out_of_range_are_refused(options: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInput, match=field):
        CircuitBreaker("redis", **options)
