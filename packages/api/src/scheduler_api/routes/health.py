"""`/health` and `/ready`: probes, without credentials."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from litestar import Response, get
from litestar.handlers import HTTPRouteHandler

from scheduler_api.schemas import HealthOut, ReadinessOut

#: Answers each component's state (`{"database": True, "queue": False}`).
Readiness = Callable[[], Awaitable[Mapping[str, bool]]]

_log = logging.getLogger(__name__)


@get("/health", tags=["probes"])
async def health() -> HealthOut:
    """Liveness: the process answers."""
    return HealthOut()


def readiness_route(readiness: Readiness) -> HTTPRouteHandler:
    """`GET /ready`, asking `readiness` on every call."""

    @get("/ready", tags=["probes"])
    async def ready() -> Response[ReadinessOut]:
        """Readiness: 200 when every component answers, else 503; the body names each one's state.

        A 503 here is a readiness report, not a problem document: probes and dashboards read
        the same shape whatever the outcome.
        """
        return await _report(readiness)

    return ready


async def _report(readiness: Readiness) -> Response[ReadinessOut]:
    try:
        states = dict(await readiness())
    except Exception:
        _log.exception("the readiness check failed")
        return Response(ReadinessOut(status="not_ready"), status_code=503)
    report = ReadinessOut(
        status="ready" if all(states.values()) else "not_ready",
        components={name: "up" if up else "down" for name, up in states.items()},
    )
    return Response(report, status_code=200 if report.status == "ready" else 503)
