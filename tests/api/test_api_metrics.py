"""`GET /metrics`: Prometheus text with the request counts, the run counters and the cluster's state."""

from __future__ import annotations

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from scheduler_domain import Role, RunStatus, WorkerInfo, WorkerStatus
from scheduler_errors import Unavailable
from tests.api.conftest import World, assert_problem, create_task


def samples(response: httpx.Response) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of an exposition, by name and labels."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return found.get((name, frozenset(labels.items())))


async def test_it_shows_the_state_read_from_the_store(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    for _ in range(2):
        assert (await admin.post(f"/api/v1/tasks/{task['id']}/trigger")).status_code == 202
    await world.worker_rows.save(
        WorkerInfo(
            id="w1", hostname="box", status=WorkerStatus.ONLINE, max_concurrent_tasks=8, current_task_count=3
        )
    )

    found = samples(await anonymous.get("/metrics"))

    assert value(found, "scheduler_tasks", status="active") == 1
    assert value(found, "scheduler_tasks", status="archived") == 0
    assert value(found, "scheduler_runs", status="pending") == 2
    assert value(found, "scheduler_runs", status="running") == 0
    assert value(found, "scheduler_workers", status="online") == 1
    assert value(found, "scheduler_worker_slots", state="total") == 8
    assert value(found, "scheduler_worker_slots", state="busy") == 3
    assert value(found, "scheduler_store_readable") == 1
    assert value(found, "process_resident_memory_bytes") is not None


async def test_requests_are_counted_by_route_template_not_by_path(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    await admin.get(f"/api/v1/tasks/{task['id']}")
    await admin.get("/api/v1/tasks/9999")

    found = samples(await anonymous.get("/metrics"))

    route = "/api/v1/tasks/{task_id}"
    assert value(found, "scheduler_http_requests_total", method="GET", route=route, status="200") == 1
    assert value(found, "scheduler_http_requests_total", method="GET", route=route, status="404") == 1
    assert (
        value(found, "scheduler_http_requests_total", method="POST", route="/api/v1/tasks", status="201") == 1
    )
    assert value(found, "scheduler_http_request_duration_seconds_count", method="GET", route=route) == 2
    assert not [key for key in found if ("route", f"/api/v1/tasks/{task['id']}") in key[1]]


async def test_a_cancel_through_the_api_is_counted_as_an_end(
    admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    run = (await admin.post(f"/api/v1/tasks/{task['id']}/trigger")).json()
    assert (await admin.post(f"/api/v1/runs/{run['id']}/cancel")).status_code == 202

    found = samples(await anonymous.get("/metrics"))

    assert value(found, "scheduler_runs_ended_total", task_type="shell", status=RunStatus.CANCELLED) == 1
    assert value(found, "scheduler_runs", status="pending") == 0


async def test_when_the_store_fails_the_state_is_left_out_and_flagged(
    world: World, anonymous: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert value(samples(await anonymous.get("/metrics")), "scheduler_tasks", status="active") == 0

    async def down() -> list[WorkerInfo]:
        raise Unavailable("the database does not answer")

    monkeypatch.setattr(world.worker_rows, "all", down)
    found = samples(await anonymous.get("/metrics"))

    assert value(found, "scheduler_store_readable") == 0
    assert not [
        name for name, _ in found if name in {"scheduler_tasks", "scheduler_runs", "scheduler_workers"}
    ]
    assert value(found, "scheduler_http_requests_total", method="GET", route="/metrics", status="200") == 1


@pytest.fixture
def private_world() -> World:
    return World(metrics_public=False)


async def test_private_metrics_need_a_credential_with_system_read(private_world: World) -> None:
    async with AsyncTestClient(app=private_world.app()) as client:
        anonymous = await client.get("/metrics")
        as_worker = await client.get("/metrics", headers={"X-API-Key": await private_world.key(Role.WORKER)})
        as_reader = await client.get(
            "/metrics", headers={"X-API-Key": await private_world.key(Role.READONLY)}
        )

    assert_problem(anonymous, 401)
    assert_problem(as_worker, 403)
    assert value(samples(as_reader), "scheduler_store_readable") == 1
