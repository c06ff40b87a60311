"""The app factory: a fresh Litestar app wired to the use cases it is given."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from litestar import Litestar, Router
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.enums import HttpMethod
from litestar.handlers import BaseRouteHandler
from litestar.routes import HTTPRoute

from scheduler_api.audit import audit_middleware, unaudited_writes
from scheduler_api.auth import API_KEY_HEADER, principal_guard, undeclared_routes
from scheduler_api.headers import add_security_headers
from scheduler_api.limits import DEFAULT_LIMITS, RateLimiter, RateLimits, rate_limit_middleware
from scheduler_api.monitoring import metrics_route, request_instruments
from scheduler_api.openapi import SECURITY, openapi_config
from scheduler_api.outside_tokens import OutsideTokens
from scheduler_api.problems import exception_handlers
from scheduler_api.requests import ApiRequest
from scheduler_api.routes.api_keys import ApiKeyRoutes
from scheduler_api.routes.audit_log import AuditLogRoutes
from scheduler_api.routes.auth import AuthRoutes
from scheduler_api.routes.health import Readiness, health, readiness_route
from scheduler_api.routes.runs import RunRoutes
from scheduler_api.routes.tasks import TaskRoutes
from scheduler_api.routes.workers import WorkerRoutes
from scheduler_api.tokens import TokenAuthority
from scheduler_application import (
    AccessControl,
    AuditTrail,
    RunControl,
    SystemOverview,
    TaskControl,
    WorkerRegistry,
)
from scheduler_foundation import NoTracing, Tracer
from scheduler_observability.metrics import Metrics

API_PREFIX = "/api/v1"
ONE_MIB = 1024 * 1024
#: What a web page of an allowed origin may send, and read, across origins (see `cors_config`).
CORS_METHODS = (HttpMethod.GET, HttpMethod.POST, HttpMethod.PATCH, HttpMethod.DELETE)
CORS_REQUEST_HEADERS = ("Authorization", "Content-Type", API_KEY_HEADER)
CORS_EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")


def create_app(
    *,
    tasks: TaskControl,
    runs: RunControl,
    access: AccessControl,
    workers: WorkerRegistry,
    audit: AuditTrail,
    tokens: TokenAuthority,
    readiness: Readiness,
    metrics: Metrics,
    overview: SystemOverview,
    metrics_public: bool = True,
    tracer: Tracer | None = None,
    max_body_bytes: int = ONE_MIB,
    debug: bool = False,
    outside_tokens: OutsideTokens | None = None,
    rate_limits: RateLimits | RateLimiter = DEFAULT_LIMITS,
    monotonic: Callable[[], float] = time.monotonic,
    cors_allow_origins: Sequence[str] = (),
    cors_max_age_seconds: int = 600,
) -> Litestar:
    """A new app serving the REST API over the given use cases.

    Credentials are API keys (`access`), the JWTs `tokens` issues for them, and the JWTs of an
    outside identity provider when `outside_tokens` checks them. Requests under `/api/v1` are
    held to `rate_limits` before they are authenticated, timed by `monotonic`; pass a
    `RateLimiter` to change them while serving (see `scheduler_api.limits`). Every write under
    `/api/v1` is recorded in `audit` (see `scheduler_api.audit`); every answer carries the
    security headers of `scheduler_api.headers`; every request is counted in `metrics`, which
    `GET /metrics` serves (to anyone when `metrics_public`, else to a credential with SystemRead;
    see `scheduler_api.monitoring`), and served in a `tracer` span. Web pages of
    `cors_allow_origins` may call the API from a browser (see `cors_config`). Logging is left to
    the caller (the app configures it); unexpected errors are logged on the
    `scheduler_api.problems` logger, audit entries that could not be stored on `scheduler_api.audit`.
    """
    guard = principal_guard(access, tokens, outside_tokens)
    limiter = (
        rate_limits
        if isinstance(rate_limits, RateLimiter)
        else RateLimiter(rate_limits, metrics, monotonic=monotonic)
    )
    api = Router(
        path=API_PREFIX,
        route_handlers=[TaskRoutes, RunRoutes, WorkerRoutes, ApiKeyRoutes, AuditLogRoutes, AuthRoutes],
        guards=[guard],
        middleware=[
            rate_limit_middleware(limiter),
            audit_middleware(audit),
        ],
        security=SECURITY,
        dependencies={
            "tasks": _provide(tasks),
            "runs": _provide(runs),
            "access": _provide(access),
            "workers": _provide(workers),
            "audit": _provide(audit),
            "tokens": _provide(tokens),
        },
    )
    scrape = metrics_route(metrics, overview, guard=None if metrics_public else guard)
    app = Litestar(
        route_handlers=[health, readiness_route(readiness), scrape, api],
        middleware=[request_instruments(metrics, tracer if tracer is not None else NoTracing())],
        exception_handlers=exception_handlers(),
        request_class=ApiRequest,
        openapi_config=openapi_config(),
        request_max_body_size=max_body_bytes,
        logging_config=None,
        before_send=[add_security_headers],
        cors_config=cors_config(cors_allow_origins, cors_max_age_seconds),
        debug=debug,
    )
    _refuse_undeclared_permissions(app)
    _refuse_unaudited_writes(app)
    return app


def cors_config(allow_origins: Sequence[str], max_age_seconds: int) -> CORSConfig | None:
    """Litestar's CORS for web pages of `allow_origins` (`*`: any); None, so no CORS header at all,
    when there are none.

    Litestar answers a preflight (`OPTIONS` with `Origin`) itself, before routing: the guard, the
    rate limits and the audit log never see it, so it needs no credential, costs no allowance
    and records nothing. Every other answer to an allowed origin, an error included, carries
    `Access-Control-Allow-Origin`, so a page can read it. Credentials travel in headers, never in
    cookies: none are allowed.
    """
    if not allow_origins:
        return None
    return CORSConfig(
        allow_origins=list(allow_origins),
        allow_methods=list(CORS_METHODS),
        allow_headers=list(CORS_REQUEST_HEADERS),
        expose_headers=list(CORS_EXPOSED_HEADERS),
        allow_credentials=False,
        max_age=max_age_seconds,
    )


def _provide(value: Any) -> Provide:
    def dependency() -> Any:
        return value

    return Provide(dependency, sync_to_thread=False, use_cache=True)


def _refuse_undeclared_permissions(app: Litestar) -> None:
    """Fail at start-up, not in production, when a protected route forgets its permission."""
    missing = undeclared_routes(_protected_handlers(app))
    if missing:
        raise RuntimeError(f"routes under {API_PREFIX} without a declared permission: {missing}")


def _refuse_unaudited_writes(app: Litestar) -> None:
    """Fail at start-up when a write route says neither how it is audited nor why it is not."""
    missing = unaudited_writes(_protected_handlers(app))
    if missing:
        raise RuntimeError(f"write routes under {API_PREFIX} without an audit rule: {missing}")


def _protected_handlers(app: Litestar) -> Iterable[BaseRouteHandler]:
    for route in app.routes:
        if isinstance(route, HTTPRoute) and route.path.startswith(API_PREFIX):
            yield from route.route_handlers
