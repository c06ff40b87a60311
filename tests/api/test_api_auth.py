"""Credentials: 401 without a usable key, 403 without the permission, checked on every request."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from scheduler_domain import Role
from tests.api.conftest import World, assert_problem, create_task

TASKS = "/api/v1/tasks"


async def test_no_credential_is_401_with_a_challenge(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get(TASKS)

    assert_problem(response, 401)
    assert "Bearer" in response.headers["www-authenticate"]


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "sk_wrong"},
        {"Authorization": "Bearer sk_wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer "},
    ],
)
async def test_a_wrong_credential_is_401(anonymous: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await anonymous.get(TASKS, headers=headers)

    assert_problem(response, 401)
    assert response.headers["www-authenticate"]


async def test_an_api_key_works_in_either_header(world: World, anonymous: httpx.AsyncClient) -> None:
    key = await world.key(Role.READONLY)

    by_header = await anonymous.get(TASKS, headers={"X-API-Key": key})
    by_bearer = await anonymous.get(TASKS, headers={"Authorization": f"Bearer {key}"})

    assert by_header.status_code == 200
    assert by_bearer.status_code == 200


async def test_a_revoked_key_is_refused_on_the_next_request(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    key = await world.key(Role.OPERATOR)
    before = await anonymous.get(TASKS, headers={"X-API-Key": key})
    key_id = next(iter(world.key_rows.rows))
    await world.access.revoke(key_id)

    after = await anonymous.get(TASKS, headers={"X-API-Key": key})

    assert before.status_code == 200
    assert_problem(after, 401)


async def test_an_expired_key_is_401(world: World, anonymous: httpx.AsyncClient) -> None:
    expires_at = world.clock.now() + timedelta(seconds=60)
    issued = await world.access.issue("short", Role.ADMIN, expires_at=expires_at)
    world.clock.advance(61)

    response = await anonymous.get(TASKS, headers={"X-API-Key": issued.secret})

    assert_problem(response, 401)


async def test_a_readonly_key_reads_but_cannot_write(world: World, anonymous: httpx.AsyncClient) -> None:
    headers = {"X-API-Key": await world.key(Role.READONLY)}

    read = await anonymous.get(TASKS, headers=headers)
    write = await anonymous.post(TASKS, json={"name": "x", "command": "true"}, headers=headers)

    assert read.status_code == 200
    assert "lacks" in assert_problem(write, 403)["detail"]
    assert world.task_rows.rows == {}


async def test_a_worker_key_cannot_trigger_or_manage_keys(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    headers = {"X-API-Key": await world.key(Role.WORKER)}

    trigger = await anonymous.post(f"{TASKS}/{task['id']}/trigger", headers=headers)
    keys = await anonymous.get("/api/v1/api-keys", headers=headers)
    heartbeat_route = await anonymous.get("/api/v1/workers", headers=headers)

    assert_problem(trigger, 403)
    assert_problem(keys, 403)
    assert heartbeat_route.status_code == 200
    assert world.run_rows.rows == {}


async def test_a_worker_key_cannot_read_tasks_or_runs(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    task = await create_task(admin, arguments={"env": {"DB_PASSWORD": "s3cret"}})
    run = (await admin.post(f"{TASKS}/{task['id']}/trigger")).json()
    headers = {"X-API-Key": await world.key(Role.WORKER)}

    reads = [
        await anonymous.get(path, headers=headers)
        for path in (
            TASKS,
            f"{TASKS}/{task['id']}",
            f"{TASKS}/{task['id']}/runs",
            "/api/v1/runs",
            f"/api/v1/runs/{run['id']}",
        )
    ]

    for response in reads:
        assert "s3cret" not in assert_problem(response, 403)["detail"]


async def test_authentication_comes_before_body_validation(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.post(TASKS, content=b"{not json")

    assert_problem(response, 401)


async def test_probes_and_schema_need_no_credential(anonymous: httpx.AsyncClient) -> None:
    for path in ("/health", "/ready", "/schema/openapi.json"):
        response = await anonymous.get(path)
        assert response.status_code == 200, path
