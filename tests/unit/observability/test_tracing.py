"""The OpenTelemetry tracer: a run's spans chain from the request, through the dispatch, to the execution."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from scheduler_domain import RunDispatch, RunOutcome, RunStatus, TaskType
from scheduler_observability.tracing import OpenTelemetryTracer
from scheduler_testing import a_run

DISPATCH = RunDispatch(
    run_id=7, task_id=3, attempt=2, task_type=TaskType.PYTHON, executor="python", command="m:f"
)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def tracer(spans: InMemorySpanExporter) -> OpenTelemetryTracer:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return OpenTelemetryTracer(provider)


def by_name(spans: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in spans.get_finished_spans()}


def test_a_run_made_in_a_request_is_dispatched_and_executed_in_the_same_trace(
    tracer: OpenTelemetryTracer, spans: InMemorySpanExporter
) -> None:
    with tracer.request("POST", "/api/v1/tasks/{task_id}/trigger") as request:
        traceparent = tracer.traceparent()
        request.answered(202)
    run = a_run(id=7, task_id=3, attempt=2, traceparent=traceparent)
    with tracer.dispatching(run) as headers:
        pass
    with tracer.executing(headers, DISPATCH) as execution:
        execution.ended(RunOutcome(status=RunStatus.SUCCEEDED))

    found = by_name(spans)
    served, dispatched, executed = (
        found["POST /api/v1/tasks/{task_id}/trigger"],
        found["run.dispatch"],
        found["run.execute"],
    )
    assert traceparent is not None
    assert served.context is not None
    assert dispatched.context is not None
    assert executed.context is not None
    assert {served.context.trace_id, dispatched.context.trace_id, executed.context.trace_id} == {
        served.context.trace_id
    }
    assert dispatched.parent is not None
    assert dispatched.parent.span_id == served.context.span_id
    assert executed.parent is not None
    assert executed.parent.span_id == dispatched.context.span_id
    assert (served.kind, dispatched.kind, executed.kind) == (
        SpanKind.SERVER,
        SpanKind.PRODUCER,
        SpanKind.CONSUMER,
    )
    assert served.attributes is not None
    assert served.attributes["http.response.status_code"] == 202
    assert executed.attributes is not None
    assert executed.attributes["scheduler.run_id"] == 7
    assert executed.attributes["scheduler.status"] == "succeeded"
    assert executed.status.status_code is StatusCode.UNSET


def test_a_run_no_request_made_starts_a_trace_of_its_own(
    tracer: OpenTelemetryTracer, spans: InMemorySpanExporter
) -> None:
    # a span current in the dispatching process is no parent either
    with tracer.request("GET", "/api/v1/tasks"), tracer.dispatching(a_run(id=9, task_id=3)) as headers:
        pass

    found = by_name(spans)
    assert found["run.dispatch"].parent is None
    assert headers["traceparent"].split("-")[1] == format(found["run.dispatch"].context.trace_id, "032x")


def test_a_failed_run_and_a_server_error_mark_their_spans(
    tracer: OpenTelemetryTracer, spans: InMemorySpanExporter
) -> None:
    with tracer.request("GET", "/api/v1/runs") as request:
        request.answered(503)
    with tracer.executing({}, DISPATCH) as execution:
        execution.ended(RunOutcome(status=RunStatus.TIMED_OUT, error_message="timed out after 1s"))

    found = by_name(spans)
    assert found["GET /api/v1/runs"].status.status_code is StatusCode.ERROR
    assert found["run.execute"].status.status_code is StatusCode.ERROR
    assert found["run.execute"].status.description == "timed out after 1s"
    assert found["run.execute"].parent is None  # no headers: a trace of its own


def test_outside_any_span_there_is_no_traceparent_to_store(tracer: OpenTelemetryTracer) -> None:
    assert tracer.traceparent() is None
