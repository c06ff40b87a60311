"""Bad task input gets the right status, names the field, and stores nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import MAX_BODY_BYTES, World, assert_problem, create_task, fields_of

TASKS = "/api/v1/tasks"


async def test_malformed_json_is_400(world: World, admin: httpx.AsyncClient) -> None:
    response = await admin.post(TASKS, content=b'{"name": "x",', headers={"content-type": "application/json"})

    assert_problem(response, 400)
    assert world.task_rows.rows == {}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"name": "\xff\xfe", "command": "true"}', "UTF-8"),
        (b'{"name": "deep", "command": "true", "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, "deep"),
    ],
    ids=["not-utf8", "nested-too-deep"],
)
@pytest.mark.parametrize("path", [TASKS, f"{TASKS}/1", f"{TASKS}/1/trigger", "/api/v1/workers"])
async def test_a_body_json_cannot_decode_is_400_on_every_route(
    world: World, admin: httpx.AsyncClient, path: str, body: bytes, says: str
) -> None:
    await create_task(admin, name="existing")
    method = "PATCH" if path == f"{TASKS}/1" else "POST"

    response = await admin.request(method, path, content=body, headers={"content-type": "application/json"})

    assert says in assert_problem(response, 400)["detail"]
    assert [task.name for task in world.task_rows.rows.values()] == ["existing"]
    assert world.run_rows.rows == {}
    assert world.worker_rows.rows == {}


async def test_a_missing_body_is_400(world: World, admin: httpx.AsyncClient) -> None:
    response = await admin.post(TASKS)

    assert "body" in assert_problem(response, 400)["detail"]
    assert world.task_rows.rows == {}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"command": "true"}, "name"),
        ({"name": "x"}, "command"),
        ({"name": "x", "command": "true", "max_retries": "many"}, "max_retries"),
        ({"name": "x", "command": "true", "priority": "urgent"}, "priority"),
        ({"name": "x", "command": "true", "task_type": "ftp"}, "task_type"),
        ({"name": "x", "command": "true", "tags": ["ok", 3]}, "tags[1]"),
        ({"name": "x", "command": "true", "schedul": "* * * * *"}, "schedul"),
        ({"name": "x", "command": "true", "id": 7}, "id"),
        ({"name": 5, "command": "true"}, "name"),
    ],
)
async def test_a_wrong_shape_is_422_naming_the_field(
    world: World, admin: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await admin.post(TASKS, json=body)

    assert fields_of(assert_problem(response, 422)) == [field]
    assert world.task_rows.rows == {}


async def test_a_body_that_is_not_an_object_is_422(world: World, admin: httpx.AsyncClient) -> None:
    response = await admin.post(TASKS, json=[1, 2])

    assert fields_of(assert_problem(response, 422)) == ["body"]
    assert world.task_rows.rows == {}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"schedule": "every minute"}, "schedule"),
        ({"schedule": "61 * * * *"}, "schedule"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"executor": "docker"}, "executor"),
        ({"task_type": "http"}, "task_type"),
        ({"dependencies": [999]}, "dependencies"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"max_retries": -1}, "max_retries"),
        ({"name": "   "}, "name"),
    ],
)
async def test_an_unacceptable_value_is_422_naming_the_field(
    world: World, admin: httpx.AsyncClient, extra: dict[str, Any], field: str
) -> None:
    response = await admin.post(TASKS, json={"name": "x", "command": "true", **extra})

    problem = assert_problem(response, 422)
    assert fields_of(problem) == [field]
    assert problem["errors"][0]["message"]
    assert world.task_rows.rows == {}


async def test_a_dependency_cycle_via_patch_is_422_and_changes_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    first = await create_task(admin, name="first")
    second = await create_task(admin, name="second", dependencies=[first["id"]])

    response = await admin.patch(f"{TASKS}/{first['id']}", json={"dependencies": [second["id"]]})

    problem = assert_problem(response, 422)
    assert fields_of(problem) == ["dependencies"]
    assert "cycle" in problem["detail"]
    assert world.task_rows.rows[first["id"]].dependencies == ()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"schedule": "nope"}, "schedule"),
        ({"name": None}, "name"),
        ({"status": "paused"}, "status"),
        ({"timeout_seconds": "soon"}, "timeout_seconds"),
    ],
)
async def test_a_bad_patch_is_422_and_changes_nothing(
    world: World, admin: httpx.AsyncClient, patch: dict[str, Any], field: str
) -> None:
    task = await create_task(admin, schedule="0 * * * *")
    before = world.task_rows.rows[task["id"]]

    response = await admin.patch(f"{TASKS}/{task['id']}", json=patch)

    assert fields_of(assert_problem(response, 422)) == [field]
    assert world.task_rows.rows[task["id"]] == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"status": "sleeping"}, "status"),
    ],
)
async def test_bad_listing_parameters_are_422(
    admin: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await admin.get(TASKS, params=params)

    assert fields_of(assert_problem(response, 422)) == [field]


async def test_the_largest_limit_is_accepted(admin: httpx.AsyncClient) -> None:
    response = await admin.get(TASKS, params={"limit": 500})

    assert response.status_code == 200


async def test_an_oversized_body_is_413(world: World, admin: httpx.AsyncClient) -> None:
    body = {"name": "big", "command": "true", "description": "x" * MAX_BODY_BYTES}

    response = await admin.post(TASKS, json=body)

    assert_problem(response, 413)
    assert world.task_rows.rows == {}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"name": "a\x00b"}, "name"),
        ({"command": "echo \x00"}, "command"),
        ({"description": "\x00"}, "description"),
        ({"tags": ["ok", "n\x00"]}, "tags[1]"),
        ({"arguments": {"env": {"PATH": "/bin\x00"}}}, "arguments.env.PATH"),
        ({"arguments": {"a\x00": 1}}, "arguments"),
        ({"metadata": {"owners": ["x", {"y": "\x00"}]}}, "metadata.owners[1].y"),
    ],
)
async def test_a_nul_character_is_422_naming_where_it_is(
    world: World, admin: httpx.AsyncClient, extra: dict[str, Any], field: str
) -> None:
    # PostgreSQL stores no NUL in text or JSON; every store refuses it alike, naming the place.
    response = await admin.post(TASKS, json={"name": "x", "command": "true", **extra})

    problem = assert_problem(response, 422)
    assert fields_of(problem) == [field]
    assert "NUL" in problem["errors"][0]["message"]
    assert world.task_rows.rows == {}


async def test_a_nul_character_in_a_patch_or_a_trigger_is_422_and_changes_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    before = world.task_rows.rows[task["id"]]

    patched = await admin.patch(f"{TASKS}/{task['id']}", json={"name": "\x00"})
    triggered = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"arguments": {"k": "\x00"}})
    keyed = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"idempotency_key": "k\x00"})

    assert fields_of(assert_problem(patched, 422)) == ["name"]
    assert fields_of(assert_problem(triggered, 422)) == ["arguments.k"]
    assert fields_of(assert_problem(keyed, 422)) == ["idempotency_key"]
    assert world.task_rows.rows[task["id"]] == before
    assert world.run_rows.rows == {}


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"env": ["A=b"]}, "arguments.env"),
        ({"env": {"A": 1}}, "arguments.env"),
        ({"cwd": 5}, "arguments.cwd"),
    ],
)
async def test_arguments_the_executor_would_refuse_are_422_where_the_task_is_written(
    world: World, admin: httpx.AsyncClient, arguments: dict[str, Any], field: str
) -> None:
    task = await create_task(admin, name="kept")
    before = world.task_rows.rows[task["id"]]

    created = await admin.post(TASKS, json={"name": "x", "command": "true", "arguments": arguments})
    patched = await admin.patch(f"{TASKS}/{task['id']}", json={"arguments": arguments})
    triggered = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"arguments": arguments})

    for response in (created, patched, triggered):
        assert fields_of(assert_problem(response, 422)) == [field]
    assert list(world.task_rows.rows.values()) == [before]
    assert world.run_rows.rows == {}
