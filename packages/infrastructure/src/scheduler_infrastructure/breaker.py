"""A circuit breaker: once calls to a backing service keep failing, further calls fail at once.

Without one, every call to a PostgreSQL server or a broker that is down waits out its own
timeout (a free pool connection, a socket read, a publisher confirm) before it fails: seconds
each, holding a request or a dispatcher pass all that time. The adapters put their calls
through a `CircuitBreaker`:

* **closed**: calls go through. `failure_threshold` availability failures in a row open it.
* **open**: calls fail at once with `CircuitOpen` (an `Unavailable` naming the component and
  when it tries again), for `reset_timeout` seconds.
* **half-open**: then up to `half_open_max_calls` calls go through as trials. A trial that
  succeeds closes the breaker; one that fails for availability opens it again for another
  `reset_timeout`. Calls beyond the trials fail at once.

What counts is the adapter's to say, by the predicate it guards a call with: a lost or refused
connection, a timeout. An error the server answered with (a constraint violation, a value it
refuses) or one the caller's own code raised (`NotFound`) is no sign of an outage: it neither
counts as a failure nor resets the count; it frees a trial's place in the half-open state, so
the next call becomes the trial. A call that succeeds resets the count and closes a half-open
breaker. Outcomes of calls admitted before the breaker last changed state are ignored (a slow
call that fails after the breaker opened does not count again).

Open to half-open is decided when a call arrives, not by a timer: `state` says half-open as
soon as a trial may go through. A `failure_threshold` of 0 turns the breaker off (every call
goes through, nothing is counted). The breaker runs on one event loop and never awaits while
it decides, so concurrent calls need no lock; `state` and `times_opened` may be read from
another thread (a metrics scrape).
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from types import TracebackType

from scheduler_errors import InvalidInput, Unavailable

logger = logging.getLogger(__name__)

#: Says whether an error a call raised is an availability failure (one the breaker counts).
IsOutage = Callable[[BaseException], bool]


class BreakerState(enum.IntEnum):
    """Where a breaker stands; the values are those `scheduler_circuit_breaker_state` shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class CircuitOpen(Unavailable):
    """A call the breaker of `component` refused without trying it: the service kept failing."""

    def __init__(self, detail: str, *, component: str, retry_after: float) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.component = component


class CircuitBreaker:
    """The breaker of one backing service's calls (see the module's docstring).

    `component` names the service in messages, logs and metrics (`postgresql`, `redis`,
    `rabbitmq`); `monotonic` is the clock it measures `reset_timeout` with.
    """

    def __init__(
        self,
        component: str,
        *,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        half_open_max_calls: int = 1,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 0:
            raise InvalidInput.for_field("failure_threshold", "must not be negative (0: no breaker)")
        if not reset_timeout > 0:
            raise InvalidInput.for_field("reset_timeout", "must be positive")
        if half_open_max_calls < 1:
            raise InvalidInput.for_field("half_open_max_calls", "must be at least 1")
        self.component = component
        self._threshold = failure_threshold
        self._reset_timeout = reset_timeout
        self._max_trials = half_open_max_calls
        self._monotonic = monotonic
        self._state = BreakerState.CLOSED
        self._generation = 0  # bumped at each change of state
        self._failures = 0  # availability failures in a row, while closed
        self._why_open = ""
        self._retry_at = 0.0  # while open: when a trial may go through
        self._trials = 0  # while half-open: trial calls under way
        self._opened_at = 0.0
        self.times_opened = 0
        """How many times it opened from closed (a failed trial that keeps it open is not counted)."""

    @property
    def enabled(self) -> bool:
        """False when `failure_threshold` is 0: every call goes through."""
        return self._threshold > 0

    @property
    def state(self) -> BreakerState:
        """Where it stands now; half-open as soon as the next call would be let through as a trial."""
        state = self._state
        if state is BreakerState.OPEN and self._monotonic() >= self._retry_at:
            return BreakerState.HALF_OPEN
        return state

    def guard(self, is_outage: IsOutage) -> BreakerCall:
        """A context manager around one call: `CircuitOpen` on entry when the breaker refuses it;
        on exit, an error for which `is_outage` holds counts as a failure, no error as a success."""
        return BreakerCall(self, is_outage)

    # ------------------------------------------------------------------ deciding

    def _admit(self) -> int:
        """Let a call through (returns the generation it belongs to), or raise `CircuitOpen`."""
        if self._state is BreakerState.CLOSED:
            return self._generation
        if self._state is BreakerState.OPEN:
            wait = self._retry_at - self._monotonic()
            if wait > 0:
                raise self._refusal(
                    f"open after {self._why_open}: calls fail at once, and a trial call goes through "
                    f"in {wait:.1f} s",
                    retry_after=wait,
                )
            self._change(BreakerState.HALF_OPEN)
        if self._trials >= self._max_trials:
            raise self._refusal(
                "half-open: trial calls are under way, and other calls fail at once until one succeeds",
                retry_after=min(1.0, self._reset_timeout),
            )
        self._trials += 1
        return self._generation

    def _settle(self, generation: int, error: BaseException | None, is_outage: IsOutage) -> None:
        """Take the outcome of a call admitted in `generation` into account."""
        if generation != self._generation or not self._threshold:
            return
        if self._state is BreakerState.HALF_OPEN:
            self._trials -= 1
        if error is None:
            self._succeeded()
        elif is_outage(error):
            self._failed(_reason(error))

    def _succeeded(self) -> None:
        self._failures = 0
        if self._state is BreakerState.HALF_OPEN:
            self._change(BreakerState.CLOSED)
            logger.info(
                "circuit breaker closed: %s answers again",
                self.component,
                extra={
                    "component": self.component,
                    "open_seconds": round(self._monotonic() - self._opened_at, 3),
                },
            )

    def _failed(self, reason: str) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._open(f"a failed trial call ({reason})")
            logger.debug("circuit breaker trial failed: %s stays open", self.component)
            return
        self._failures += 1
        failures = self._failures
        if failures >= self._threshold:
            self._opened_at = self._monotonic()
            self.times_opened += 1
            self._open(f"{failures} failures in a row (the last: {reason})")
            logger.warning(
                "circuit breaker opened: calls to %s fail at once for %g s",
                self.component,
                self._reset_timeout,
                extra={"component": self.component, "failures": failures, "error": reason},
            )

    def _open(self, why: str) -> None:
        self._why_open = why
        self._retry_at = self._monotonic() + self._reset_timeout
        self._change(BreakerState.OPEN)

    def _change(self, state: BreakerState) -> None:
        self._state = state
        self._generation += 1
        self._trials = 0
        self._failures = 0

    def _refusal(self, why: str, *, retry_after: float) -> CircuitOpen:
        return CircuitOpen(
            f"{self.component} is unavailable: its circuit breaker is {why}",
            component=self.component,
            retry_after=retry_after,
        )


class BreakerCall:
    """One call through a breaker: admitted on entry (or refused), judged on exit."""

    __slots__ = ("_breaker", "_generation", "_is_outage")

    def __init__(self, breaker: CircuitBreaker, is_outage: IsOutage) -> None:
        self._breaker = breaker
        self._is_outage = is_outage
        self._generation = -1

    def __enter__(self) -> None:
        self._generation = self._breaker._admit()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._breaker._settle(self._generation, error, self._is_outage)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
