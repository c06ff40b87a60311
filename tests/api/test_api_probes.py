"""`/health` and `/ready` answer without credentials."""

from __future__ import annotations

import httpx
from litestar.testing import AsyncTestClient

from tests.api.conftest import World


async def test_health_is_ok_without_credentials(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_every_component_answers(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "components": {"database": "up", "queue": "up"}}


async def test_not_ready_names_the_component_that_is_down(world: World, anonymous: httpx.AsyncClient) -> None:
    await world.queue.close()

    response = await anonymous.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "components": {"database": "up", "queue": "down"}}


async def test_readiness_answers_each_time_it_is_asked(world: World, anonymous: httpx.AsyncClient) -> None:
    world.database_up = False
    down = await anonymous.get("/ready")
    world.database_up = True
    up = await anonymous.get("/ready")

    assert down.status_code == 503
    assert down.json()["components"]["database"] == "down"
    assert up.status_code == 200


async def test_a_failing_readiness_check_is_not_ready_without_details(world: World) -> None:
    async def broken() -> dict[str, bool]:
        raise RuntimeError("postgresql://user:secret@db")

    world.readiness = broken  # type: ignore[method-assign]
    async with AsyncTestClient(app=world.app()) as client:
        response = await client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "not_ready", "components": {}}
    assert "secret" not in response.text
