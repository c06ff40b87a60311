"""The tracing port: spans that follow a run from the request that made it to the worker that ran it.

A trace starts with the API request that creates a run (`request`); the run stores that span's
W3C `traceparent` (`traceparent`), the dispatcher publishes the run in a span continuing it
(`dispatching`) and puts its own context in the message's headers, and the worker executes the
run in a span continuing those (`executing`). `NoTracing` does none of it and loads nothing: it
is what every part gets while tracing is off (`tracing.exporter = "off"`, the default).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Protocol

from scheduler_domain import RunDispatch, RunOutcome, TaskRun


class RequestSpan(Protocol):
    """The span of one API request, open while it is served."""

    def answered(self, status: int) -> None:
        """Record the HTTP status of the answer (a 5xx marks the span an error)."""
        ...


class ExecutionSpan(Protocol):
    """The span of one run attempt on a worker, open while it executes and reports."""

    def ended(self, outcome: RunOutcome) -> None:
        """Record how the attempt ended (any status but `succeeded` marks the span an error)."""
        ...


class Tracer(Protocol):
    """Opens the spans of a run's life; see the module's docstring."""

    def request(self, method: str, route: str) -> contextlib.AbstractContextManager[RequestSpan]:
        """A server span for an API request to `route` (the route's template), current while open."""
        ...

    def traceparent(self) -> str | None:
        """The `traceparent` of the current span, to store with a run; None outside any trace."""
        ...

    def dispatching(self, run: TaskRun) -> contextlib.AbstractContextManager[dict[str, str]]:
        """A span for publishing `run`, continuing its stored trace (a new one when it has none);
        gives the message headers that carry it."""
        ...

    def executing(
        self, headers: Mapping[str, str], dispatch: RunDispatch
    ) -> contextlib.AbstractContextManager[ExecutionSpan]:
        """A span for executing `dispatch`, continuing the trace its message's `headers` carry."""
        ...


class NoTracing:
    """The tracer while tracing is off: no spans, no headers, no stored trace context."""

    def request(self, method: str, route: str) -> contextlib.AbstractContextManager[RequestSpan]:
        """No span."""
        return contextlib.nullcontext(_NO_SPAN)

    def traceparent(self) -> str | None:
        """Nothing to store."""
        return None

    @contextlib.contextmanager
    def dispatching(self, run: TaskRun) -> Iterator[dict[str, str]]:
        """No span, and no headers (a fresh dict each time: the caller may keep it)."""
        yield {}

    def executing(
        self, headers: Mapping[str, str], dispatch: RunDispatch
    ) -> contextlib.AbstractContextManager[ExecutionSpan]:
        """No span."""
        return contextlib.nullcontext(_NO_SPAN)


class _NoSpan:
    def answered(self, status: int) -> None:
        """Nothing to record."""

    def ended(self, outcome: RunOutcome) -> None:
        """Nothing to record."""


_NO_SPAN = _NoSpan()
