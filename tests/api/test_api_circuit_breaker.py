"""A call refused by an open circuit breaker is a 503 that says when to come back (`Retry-After`)."""

from __future__ import annotations

import httpx
import pytest

from scheduler_errors import Unavailable
from scheduler_infrastructure.breaker import CircuitBreaker, CircuitOpen
from tests.api.conftest import World, assert_problem, create_task


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def refusal_of_an_open_breaker(*, after: float) -> CircuitOpen:
    """What the broker's breaker raises `after` seconds into a 10 s open period."""
    clock = Clock()
    breaker = CircuitBreaker("redis", failure_threshold=1, reset_timeout=10.0, monotonic=clock)
    with pytest.raises(ConnectionError), breaker.guard(lambda exc: isinstance(exc, ConnectionError)):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379")
    clock.now = after
    with pytest.raises(CircuitOpen) as caught, breaker.guard(lambda exc: False):
        pass
    return caught.value


async def cancel_a_running_run(world: World, admin: httpx.AsyncClient, name: str) -> httpx.Response:
    task = await create_task(admin, name=name)
    triggered = await admin.post(f"/api/v1/tasks/{task['id']}/trigger")
    run_id = int(triggered.json()["id"])
    world.start(run_id, "worker-a")
    return await admin.post(f"/api/v1/runs/{run_id}/cancel")


async def test_an_open_breaker_is_503_with_retry_after_in_whole_seconds(
    world: World, admin: httpx.AsyncClient
) -> None:
    world.queue.fail_publish = Unavailable("Redis did not answer while publishing")
    unknown_wait = await cancel_a_running_run(world, admin, "first")
    world.queue.fail_publish = refusal_of_an_open_breaker(after=6.5)  # 3.5 s left

    response = await cancel_a_running_run(world, admin, "second")

    assert_problem(unknown_wait, 503)
    assert "retry-after" not in unknown_wait.headers  # an Unavailable that cannot say
    detail = assert_problem(response, 503)["detail"]
    assert response.headers["retry-after"] == "4"
    assert detail.startswith("redis is unavailable: its circuit breaker is open")
    assert "in 3.5 s" in detail
