"""What the circuit-breaker tests against the real servers share: a breaker shown in metrics,
calls timed, and calls repeated (with a deadline) until the breaker opens or lets work through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from scheduler_errors import Unavailable
from scheduler_infrastructure.breaker import BreakerState, CircuitBreaker, CircuitOpen
from scheduler_observability.metrics import Metrics

Call = Callable[[], Awaitable[Any]]


def metered(breaker: CircuitBreaker) -> Metrics:
    """Metrics that show `breaker`, as a process that serves them does."""
    metrics = Metrics()
    metrics.circuit_breakers.watch(breaker)
    return metrics


def shown(metrics: Metrics, component: str) -> tuple[float, float]:
    """`scheduler_circuit_breaker_state` and `..._opened_total` of `component`, as a scrape reads them."""
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(metrics.exposition().decode())
        for sample in family.samples
        if sample.labels.get("component") == component
    }
    return samples["scheduler_circuit_breaker_state"], samples["scheduler_circuit_breaker_opened_total"]


async def timed(call: Call) -> tuple[float, BaseException | None]:
    """How long `call` took, and what it raised (None when it returned)."""
    started = time.monotonic()
    try:
        await call()
    except Exception as exc:
        return time.monotonic() - started, exc
    return time.monotonic() - started, None


async def fail_until_open(breaker: CircuitBreaker, call: Call, *, within: float) -> list[float]:
    """Make `call`, each failing `Unavailable`, until `breaker` opens; how long each took."""
    took: list[float] = []
    async with asyncio.timeout(within):
        while breaker.state is not BreakerState.OPEN:
            seconds, error = await timed(call)
            assert isinstance(error, Unavailable), f"expected Unavailable, got {error!r}"
            took.append(seconds)
    return took


async def refusals(call: Call, count: int) -> list[float]:
    """Make `call` `count` times; each must be refused by the open breaker. How long each took."""
    took = []
    for _ in range(count):
        seconds, error = await timed(call)
        assert isinstance(error, CircuitOpen), f"expected CircuitOpen, got {error!r}"
        took.append(seconds)
    return took


async def until_half_open(breaker: CircuitBreaker, *, within: float) -> None:
    """Return once `breaker` lets a trial call through (its reset timeout has passed)."""
    async with asyncio.timeout(within):
        while breaker.state is not BreakerState.HALF_OPEN:
            await asyncio.sleep(0.01)


async def until_it_succeeds(call: Call, *, within: float) -> Any:
    """Make `call` until it returns (refusals and failed trials are retried); what it returned."""
    async with asyncio.timeout(within):
        while True:
            try:
                return await call()
            except Unavailable:
                await asyncio.sleep(0.05)
