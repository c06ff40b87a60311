"""OpenTelemetry spans for a run's life: the `scheduler_foundation.Tracer` of a process that traces.

Through the OpenTelemetry API only: the app configures the SDK (the provider, its exporter) and
then hands an `OpenTelemetryTracer` to the API, the dispatcher and the worker. Trace context
crosses processes as W3C `traceparent`: stored with the run by the API, put in the message's
headers by the dispatcher, read from them by the worker.

Spans: `<METHOD> <route>` (server) for each API request; `run.dispatch` (producer) for each run
published, a child of the request that created the run, or the root of a new trace for a run
that no request created (a cron fire, a retry of one); `run.execute` (consumer) on the worker,
a child of `run.dispatch`. Each carries `scheduler.run_id` and `scheduler.attempt`.

Not imported by `scheduler_observability` itself: a process with tracing off loads no
OpenTelemetry module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from scheduler_domain import RunDispatch, RunOutcome, RunStatus, TaskRun

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACEPARENT = "traceparent"


class OpenTelemetryTracer:
    """Opens the spans of a run's life with `provider`, by default the one set for the process."""

    def __init__(self, provider: trace.TracerProvider | None = None, *, name: str = "scheduler") -> None:
        self._tracer = trace.get_tracer(name, tracer_provider=provider)

    @contextlib.contextmanager
    def request(self, method: str, route: str) -> Iterator[RequestSpan]:
        """A server span `<method> <route>`, current while the request is served."""
        attributes = {"http.request.method": method, "http.route": route}
        with self._tracer.start_as_current_span(
            f"{method} {route}", kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            yield RequestSpan(span)

    def traceparent(self) -> str | None:
        """The `traceparent` of the current span; None outside any recorded span."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get(_TRACEPARENT)

    @contextlib.contextmanager
    def dispatching(self, run: TaskRun) -> Iterator[dict[str, str]]:
        """`run.dispatch`, continuing the run's stored trace; gives the headers that carry it on."""
        parent = _PROPAGATOR.extract({_TRACEPARENT: run.traceparent}) if run.traceparent else Context()
        with self._tracer.start_as_current_span(
            "run.dispatch", context=parent, kind=SpanKind.PRODUCER, attributes=_run_attributes(run)
        ):
            headers: dict[str, str] = {}
            _PROPAGATOR.inject(headers)
            yield headers

    @contextlib.contextmanager
    def executing(self, headers: Mapping[str, str], dispatch: RunDispatch) -> Iterator[ExecutionSpan]:
        """`run.execute`, continuing the trace in the message's `headers` (a new one without)."""
        parent = _PROPAGATOR.extract(dict(headers))
        attributes = {
            "scheduler.run_id": dispatch.run_id,
            "scheduler.attempt": dispatch.attempt,
            "scheduler.task_type": dispatch.task_type.value,
            "scheduler.executor": dispatch.executor,
        }
        with self._tracer.start_as_current_span(
            "run.execute", context=parent, kind=SpanKind.CONSUMER, attributes=attributes
        ) as span:
            yield ExecutionSpan(span)


class RequestSpan:
    """Records the answer's status on an API request's span."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def answered(self, status: int) -> None:
        """Set `http.response.status_code`; a 5xx is an error."""
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))


class ExecutionSpan:
    """Records a run attempt's outcome on its span."""

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def ended(self, outcome: RunOutcome) -> None:
        """Set `scheduler.status`; anything but `succeeded` is an error, described by its message."""
        self._span.set_attribute("scheduler.status", outcome.status.value)
        if outcome.status is not RunStatus.SUCCEEDED:
            self._span.set_status(Status(StatusCode.ERROR, outcome.error_message or outcome.status.value))


def _run_attributes(run: TaskRun) -> dict[str, str | int]:
    return {
        "scheduler.run_id": run.id,
        "scheduler.attempt": run.attempt,
        "scheduler.task_id": run.task_id,
        "scheduler.task_type": run.task_type.value,
        "scheduler.trigger": run.trigger.value,
    }
