"""Every error is an RFC 9457 problem, with no internals in it."""

from __future__ import annotations

import logging

import httpx
import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from scheduler_api.auth import requires, undeclared_routes
from scheduler_domain import Permission, Role
from tests.api.conftest import World, assert_problem


async def test_an_unknown_route_is_a_404_problem(admin: httpx.AsyncClient) -> None:
    for path in ("/nope", "/api/v1/nope", "/api/v2/tasks"):
        body = assert_problem(await admin.get(path), 404)
        assert body["instance"] == path


async def test_a_method_the_route_lacks_is_a_405_problem(admin: httpx.AsyncClient) -> None:
    response = await admin.put("/api/v1/tasks")

    assert "PUT" in assert_problem(response, 405)["detail"]


async def test_an_unexpected_failure_is_a_generic_500_and_is_logged(
    world: World,
    admin: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("password=hunter2 in a driver message")

    monkeypatch.setattr(world.task_rows, "page", broken)

    with caplog.at_level(logging.ERROR, logger="scheduler_api"):
        response = await admin.get("/api/v1/tasks")

    body = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    assert body["detail"] == "an unexpected error occurred; it has been logged"
    assert any("hunter2" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)


async def test_a_validation_problem_lists_fields_and_messages(admin: httpx.AsyncClient) -> None:
    response = await admin.post("/api/v1/tasks", json={"name": "x", "command": "y", "max_retries": "x"})

    body = assert_problem(response, 422)
    assert body["type"] == "about:blank"
    assert body["errors"] == [{"field": "max_retries", "message": "Expected `int`, got `str`"}]


async def test_a_nested_field_is_named_by_its_path(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/api/v1/workers",
        json={
            "hostname": "h",
            "ip_address": "1.2.3.4",
            "port": "eighty",
            "task_types": ["shell"],
            "max_concurrent_tasks": 1,
        },
    )

    assert assert_problem(response, 422)["errors"][0]["field"] == "port"


async def test_problems_without_field_errors_omit_the_list(admin: httpx.AsyncClient) -> None:
    body = assert_problem(await admin.get("/api/v1/tasks/404"), 404)

    assert "errors" not in body


async def test_debug_mode_still_sends_no_internals(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object) -> None:
        raise RuntimeError("password=hunter2")

    monkeypatch.setattr(world.task_rows, "get", broken)
    async with AsyncTestClient(app=world.app(debug=True)) as client:
        client.headers["X-API-Key"] = await world.key(Role.ADMIN)
        response = await client.get("/api/v1/tasks/1")

    assert_problem(response, 500)
    assert "hunter2" not in response.text


def test_a_route_without_a_declared_permission_is_found() -> None:
    @get("/naked")
    async def naked() -> None:
        return None

    @get("/covered", opt=requires(Permission.TASK_READ))
    async def covered() -> None:
        return None

    assert undeclared_routes([naked, covered]) == ["naked"]
