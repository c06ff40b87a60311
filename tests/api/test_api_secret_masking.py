"""A caller that may only read tasks sees their secrets masked; one that may write them sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from scheduler_domain import MASK, Role
from tests.api.conftest import World, create_task

ARGUMENTS = {"env": {"DB_PASSWORD": "hunter2", "GREETING": "hello"}}
TRIGGERED = {"env": {"API_TOKEN": "t0k3n", "MODE": "fast"}}


@pytest.fixture
async def readonly(world: World, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncTestClient(app=app) as client:
        client.headers["X-API-Key"] = await world.key(Role.READONLY)
        yield client


@pytest.fixture
async def operator(world: World, app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with AsyncTestClient(app=app) as client:
        client.headers["X-API-Key"] = await world.key(Role.OPERATOR)
        yield client


@pytest.fixture
async def stored(admin: httpx.AsyncClient) -> dict[str, Any]:
    """A task holding a secret, and a run of it triggered with another."""
    task = await create_task(admin, arguments=ARGUMENTS)
    run = await admin.post(f"/api/v1/tasks/{task['id']}/trigger", json={"arguments": TRIGGERED})
    assert run.status_code == 202, run.text
    return {"task_id": task["id"], "run_id": run.json()["id"]}


async def test_a_readonly_caller_sees_a_tasks_secrets_masked(
    readonly: httpx.AsyncClient, stored: dict[str, Any]
) -> None:
    one = (await readonly.get(f"/api/v1/tasks/{stored['task_id']}")).json()
    [listed] = (await readonly.get("/api/v1/tasks")).json()["items"]

    for task in (one, listed):
        assert task["arguments"] == {"env": {"DB_PASSWORD": MASK, "GREETING": "hello"}}


async def test_a_readonly_caller_sees_a_runs_secrets_masked(
    readonly: httpx.AsyncClient, stored: dict[str, Any]
) -> None:
    one = (await readonly.get(f"/api/v1/runs/{stored['run_id']}")).json()
    [listed] = (await readonly.get("/api/v1/runs")).json()["items"]
    [of_task] = (await readonly.get(f"/api/v1/tasks/{stored['task_id']}/runs")).json()["items"]

    for run in (one, listed, of_task):
        assert run["arguments"] == {"env": {"API_TOKEN": MASK, "MODE": "fast"}}


async def test_a_caller_that_may_write_tasks_sees_them_as_written(
    operator: httpx.AsyncClient, stored: dict[str, Any]
) -> None:
    task = (await operator.get(f"/api/v1/tasks/{stored['task_id']}")).json()
    run = (await operator.get(f"/api/v1/runs/{stored['run_id']}")).json()

    assert task["arguments"] == ARGUMENTS
    assert run["arguments"] == TRIGGERED
