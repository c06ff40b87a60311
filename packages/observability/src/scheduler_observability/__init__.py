"""Structured logging; the Prometheus metrics (`scheduler_observability.metrics`,
`.run_metrics`, `.worker_metrics`, `.metrics_endpoint`) and the OpenTelemetry spans
(`scheduler_observability.tracing`) are imported from their modules, so that a process that
neither serves metrics nor traces loads neither library."""

from scheduler_observability.logs import configure_logging, get_logger

__all__ = ["configure_logging", "get_logger"]
