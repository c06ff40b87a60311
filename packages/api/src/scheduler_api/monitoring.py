"""`GET /metrics`, the request metrics behind it, and the span of each request.

Every request that reaches a route is served in a span of the process's tracer (`<METHOD>
<route>`; a no-op while tracing is off), and counted by method, route template
(`/api/v1/tasks/{task_id}`, never the raw path, so ids do not multiply the series) and status,
and timed from its arrival at the app to the last byte of its answer. A request for no route
(404 before routing) is neither.

At each scrape, the route reads the cluster's state from the store (`SystemOverview`) into the
state gauges, then answers every metric of the process in Prometheus text format. When the store
does not answer, the state gauges are left out of that answer and `scheduler_store_readable` is
0: the process's own metrics still go out, and no stale count passes for a current one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from litestar import Response, get
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Guard, Message, Receive, Scope, Send

from scheduler_api.auth import requires
from scheduler_application import SystemOverview
from scheduler_domain import Permission
from scheduler_foundation import Tracer
from scheduler_observability.metrics import MEDIA_TYPE, ClusterState, Metrics

METRICS_PATH = "/metrics"

_log = logging.getLogger(__name__)


def request_instruments(metrics: Metrics, tracer: Tracer) -> Callable[[ASGIApp], ASGIApp]:
    """The app middleware serving each HTTP request in a `tracer` span and counting and timing it
    in `metrics` (see above)."""

    def wrap(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            method, route = scope["method"], scope.get("path_template", scope["path"])
            started = time.perf_counter()
            status = 500

            async def watched_send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            with tracer.request(method, route) as span:
                try:
                    await app(scope, receive, watched_send)
                finally:
                    span.answered(status)
                    metrics.http_requests.labels(method, route, str(status)).inc()
                    metrics.http_request_duration.labels(method, route).observe(time.perf_counter() - started)

        return middleware

    return wrap


def metrics_route(metrics: Metrics, overview: SystemOverview, *, guard: Guard | None) -> HTTPRouteHandler:
    """`GET /metrics`; behind `guard` (a credential with SystemRead) unless it is None (public)."""
    state = metrics.cluster_state

    @get(
        METRICS_PATH,
        tags=["probes"],
        guards=[guard] if guard is not None else [],
        opt=requires(Permission.SYSTEM_READ) if guard is not None else {},
        media_type=MEDIA_TYPE,
        description="Prometheus text format: this process's metrics and the cluster's state.",
    )
    async def scrape() -> Response[Any]:
        await _show_state(state, overview)
        return Response(metrics.exposition(), media_type=MEDIA_TYPE)

    return scrape


async def _show_state(state: ClusterState, overview: SystemOverview) -> None:
    try:
        current = await overview.current()
    except Exception:
        _log.warning("metrics: could not read the state from the store", exc_info=True)
        state.hide()
        return
    state.show(
        runs={status.value: count for status, count in current.runs.items()},
        tasks={status.value: count for status, count in current.tasks.items()},
        workers={status.value: count for status, count in current.workers.items()},
        slots=current.slots,
        busy_slots=current.busy_slots,
    )
