"""The circuit breakers of a process: one in front of PostgreSQL, one in front of the broker.

Built from `[circuit_breaker]`; a process that serves metrics shows their state (read at each
scrape). SQLite and the in-process queue have none: nothing can cut a process off them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scheduler_config import AppConfig
from scheduler_infrastructure.breaker import CircuitBreaker

if TYPE_CHECKING:  # a worker that serves no metrics loads no metrics library
    from scheduler_observability.metrics import Metrics


def circuit_breaker(component: str, config: AppConfig, metrics: Metrics | None = None) -> CircuitBreaker:
    """The breaker of `component`'s calls, shown in `metrics` (unless breakers are off)."""
    settings = config.circuit_breaker
    breaker = CircuitBreaker(
        component,
        failure_threshold=settings.failure_threshold,
        reset_timeout=settings.reset_timeout_seconds,
        half_open_max_calls=settings.half_open_max_calls,
    )
    if metrics is not None and breaker.enabled:
        metrics.circuit_breakers.watch(breaker)
    return breaker


def broker_component(url: str) -> str:
    """The broker `queue.url` names, as breakers call it: `rabbitmq` or `redis`."""
    return "rabbitmq" if url.split("://", 1)[0].lower() in ("amqp", "amqps") else "redis"
