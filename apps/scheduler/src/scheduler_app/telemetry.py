"""Tracing set up for the process: the OpenTelemetry SDK, only when `tracing.exporter` asks for it.

The one place that configures the SDK (libraries use the API only). With `off`, the default,
nothing of OpenTelemetry is imported and every part gets `NoTracing`. With `console`, each
finished span is written to stdout as one JSON line; with `otlp`, spans go in batches to
`tracing.otlp_endpoint` (OTLP over HTTP). `tracing.sample_ratio` of the new traces are recorded; a
span continuing a trace follows its parent's choice. The provider is shut down with the process's
resources, which sends the spans still buffered.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from scheduler_config import TracingConfig
from scheduler_foundation import NoTracing, Tracer

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter


def tracer(settings: TracingConfig) -> Iterator[Tracer]:
    """The process's tracer, as a dependency-injector resource: set up, then shut down."""
    if settings.exporter == "off":
        yield NoTracing()
        return
    from scheduler_observability.tracing import OpenTelemetryTracer

    provider = _provider(settings)
    try:
        yield OpenTelemetryTracer()
    finally:
        provider.shutdown()


def _provider(settings: TracingConfig) -> TracerProvider:
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    if settings.exporter == "console":  # written as each span ends: nothing is lost at a crash
        provider.add_span_processor(SimpleSpanProcessor(_console_exporter()))
    else:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings.otlp_endpoint)))
    trace.set_tracer_provider(provider)
    return provider


def _console_exporter() -> SpanExporter:
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    def one_line(span: ReadableSpan) -> str:
        return f"{span.to_json(indent=None)}\n"

    return ConsoleSpanExporter(out=sys.stdout, formatter=one_line)


def _otlp_exporter(endpoint: str) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=endpoint)
