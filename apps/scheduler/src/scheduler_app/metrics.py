"""The metrics of the processes that serve no API: the dispatcher's and the worker's own endpoint.

prometheus_client is loaded on first call, not on import: `scheduler worker` imports this module
and, unless `worker.metrics_port` is set, never calls it (its memory is counted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from scheduler_errors import InvalidInput

if TYPE_CHECKING:
    from scheduler_foundation import RunReporter
    from scheduler_observability.metrics import Metrics
    from scheduler_observability.metrics_endpoint import MetricsEndpoint
    from scheduler_observability.worker_metrics import MeteredReporter, WorkerMetrics


def serving(metrics: Metrics, *, setting: str, host: str, port: int) -> MetricsEndpoint:
    """An endpoint serving `metrics` on `host:port`, listening already: a taken port stops the
    start with one line naming `setting`, the port's setting."""
    from scheduler_observability.metrics_endpoint import MetricsEndpoint

    endpoint = MetricsEndpoint(metrics, host=host, port=port)
    try:
        endpoint.start()
    except OSError as exc:
        raise InvalidInput.for_field(
            setting, f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from exc
    return endpoint


def worker_reporting(metrics_port: int) -> Literal["metered", "plain"]:
    """Which run reporter a worker uses: the metered one when it serves metrics."""
    return "metered" if metrics_port else "plain"


def worker_metrics(*, slots: int) -> WorkerMetrics:
    """A worker's metrics, in a registry of their own beside the process metrics."""
    from scheduler_observability.metrics import Metrics
    from scheduler_observability.worker_metrics import WorkerMetrics

    return WorkerMetrics(Metrics(), slots=slots)


def metered_reporter(reporter: RunReporter, metrics: WorkerMetrics) -> MeteredReporter:
    """`reporter`, counting in `metrics` the runs it reports finished."""
    from scheduler_observability.worker_metrics import MeteredReporter

    return MeteredReporter(reporter, metrics)
