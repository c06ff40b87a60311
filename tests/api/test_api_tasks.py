"""Tasks over REST: create, read, list, edit, pause, resume, archive, trigger."""

from __future__ import annotations

import httpx
import pytest

from scheduler_domain import TaskStatus
from tests.api.conftest import World, assert_problem, create_task, fields_of

TASKS = "/api/v1/tasks"


async def test_create_answers_the_stored_task_with_defaults(world: World, admin: httpx.AsyncClient) -> None:
    response = await admin.post(TASKS, json={"name": "nightly", "command": "backup", "schedule": "@daily"})

    assert response.status_code == 201
    task = response.json()
    assert task["id"] == 1
    assert task["schedule"] == "0 0 * * *"
    assert task["next_run_at"] == "2026-01-02T00:00:00Z"
    assert task["status"] == "active"
    assert task["task_type"] == "shell"
    assert task["executor"] == "shell"
    assert task["timezone"] == "UTC"
    assert task["priority"] == "normal"
    assert task["timeout_seconds"] == 3600
    assert world.task_rows.rows[1].name == "nightly"


async def test_get_answers_what_create_answered(admin: httpx.AsyncClient) -> None:
    created = await create_task(admin, tags=["a", "b"], dependencies=[], metadata={"owner": "ops"})

    response = await admin.get(f"{TASKS}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


async def test_unknown_task_is_404(admin: httpx.AsyncClient) -> None:
    for response in (
        await admin.get(f"{TASKS}/999"),
        await admin.patch(f"{TASKS}/999", json={"description": "x"}),
        await admin.delete(f"{TASKS}/999"),
        await admin.post(f"{TASKS}/999/pause"),
        await admin.post(f"{TASKS}/999/trigger"),
        await admin.get(f"{TASKS}/999/runs"),
    ):
        assert "999" in assert_problem(response, 404)["detail"]


async def test_a_non_integer_id_matches_no_route(admin: httpx.AsyncClient) -> None:
    response = await admin.get(f"{TASKS}/abc")

    assert_problem(response, 404)


async def test_listing_pages_through_every_task_once(admin: httpx.AsyncClient) -> None:
    created = [(await create_task(admin, name=f"t{i}"))["id"] for i in range(5)]

    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await admin.get(TASKS, params=params)).json()
        pages += 1
        seen += [task["id"] for task in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == created
    assert pages == 3


async def test_listing_defaults_to_fifty(admin: httpx.AsyncClient) -> None:
    for i in range(51):
        await create_task(admin, name=f"t{i}")

    page = (await admin.get(TASKS)).json()

    assert len(page["items"]) == 50
    assert page["next_cursor"] is not None


async def test_listing_filters_combine(admin: httpx.AsyncClient) -> None:
    await create_task(admin, name="backup-db", tags=["ops"], task_type="shell")
    wanted = await create_task(admin, name="Backup-files", tags=["ops", "nightly"])
    report = await create_task(admin, name="report", tags=["nightly"])
    paused = await create_task(admin, name="backup-old", tags=["nightly"])
    await admin.post(f"{TASKS}/{paused['id']}/pause")

    by_tag_and_name = (await admin.get(TASKS, params={"tag": "nightly", "name": "backup"})).json()
    active_nightly = (await admin.get(TASKS, params={"tag": "nightly", "status": "active"})).json()
    by_type = (await admin.get(TASKS, params={"task_type": "http"})).json()

    assert [t["name"] for t in by_tag_and_name["items"]] == ["Backup-files", "backup-old"]
    assert [t["id"] for t in active_nightly["items"]] == [wanted["id"], report["id"]]
    assert by_type["items"] == []


async def test_patch_changes_only_the_given_fields(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin, description="old", max_retries=2, tags=["x"])

    response = await admin.patch(f"{TASKS}/{task['id']}", json={"description": "new", "priority": "high"})

    assert response.status_code == 200
    patched = response.json()
    assert patched["description"] == "new"
    assert patched["priority"] == "high"
    assert patched["max_retries"] == 2
    assert patched["tags"] == ["x"]
    assert patched["name"] == task["name"]


async def test_patch_with_null_schedule_clears_it(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin, schedule="*/5 * * * *")
    assert task["next_run_at"] is not None

    response = await admin.patch(f"{TASKS}/{task['id']}", json={"schedule": None})

    assert response.status_code == 200
    assert response.json()["schedule"] is None
    assert response.json()["next_run_at"] is None
    assert world.task_rows.rows[task["id"]].schedule is None


async def test_patch_without_schedule_keeps_it(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin, schedule="*/5 * * * *")

    response = await admin.patch(f"{TASKS}/{task['id']}", json={"timeout_seconds": 60})

    assert response.json()["schedule"] == "*/5 * * * *"
    assert response.json()["timeout_seconds"] == 60


async def test_pause_and_resume(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin, schedule="0 * * * *")

    paused = await admin.post(f"{TASKS}/{task['id']}/pause")
    world.clock.advance(hours=3)
    resumed = await admin.post(f"{TASKS}/{task['id']}/resume")

    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"
    assert paused.json()["next_run_at"] is None
    assert resumed.status_code == 200
    assert resumed.json()["status"] == "active"
    assert resumed.json()["next_run_at"] == "2026-01-01T04:00:00Z"


async def test_archive_is_204_and_keeps_the_task(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)

    response = await admin.delete(f"{TASKS}/{task['id']}")

    assert response.status_code == 204
    assert response.content == b""
    assert world.task_rows.rows[task["id"]].status is TaskStatus.ARCHIVED
    assert (await admin.get(f"{TASKS}/{task['id']}")).json()["status"] == "archived"


async def test_an_archived_task_cannot_be_triggered_edited_or_paused(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    await admin.delete(f"{TASKS}/{task['id']}")

    trigger = await admin.post(f"{TASKS}/{task['id']}/trigger")
    edit = await admin.patch(f"{TASKS}/{task['id']}", json={"description": "x"})
    pause = await admin.post(f"{TASKS}/{task['id']}/pause")

    assert "archived" in assert_problem(trigger, 409)["detail"]
    assert_problem(edit, 409)
    assert_problem(pause, 409)


async def test_a_duplicate_name_is_409(world: World, admin: httpx.AsyncClient) -> None:
    await create_task(admin, name="same")

    response = await admin.post(TASKS, json={"name": "same", "command": "true"})

    assert_problem(response, 409)
    assert len(world.task_rows.rows) == 1


async def test_trigger_is_202_with_a_pending_manual_run(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)

    response = await admin.post(f"{TASKS}/{task['id']}/trigger")

    assert response.status_code == 202
    run = response.json()
    assert run["task_id"] == task["id"]
    assert run["status"] == "pending"
    assert run["trigger"] == "manual"
    assert run["attempt"] == 1
    assert world.wakeup.notified == 1


async def test_trigger_passes_arguments(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)

    response = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"arguments": {"env": {"A": "1"}}})

    assert response.status_code == 202
    assert response.json()["arguments"] == {"env": {"A": "1"}}
    assert world.run_rows.rows[response.json()["id"]].arguments == {"env": {"A": "1"}}


async def test_trigger_with_the_same_idempotency_key_returns_the_same_run(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    url = f"{TASKS}/{task['id']}/trigger"

    first = await admin.post(url, json={"idempotency_key": "deploy-42"})
    again = await admin.post(url, json={"idempotency_key": "deploy-42"})
    other = await admin.post(url, json={"idempotency_key": "deploy-43"})

    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert len(world.run_rows.rows) == 2


@pytest.mark.parametrize("key", ["", "k" * 256, "é" * 1500])
async def test_an_empty_or_overlong_idempotency_key_is_422_and_makes_no_run(
    world: World, admin: httpx.AsyncClient, key: str
) -> None:
    task = await create_task(admin)

    response = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"idempotency_key": key})

    problem = assert_problem(response, 422)
    assert fields_of(problem) == ["idempotency_key"]
    assert "255" in problem["detail"]
    assert world.run_rows.rows == {}


async def test_an_idempotency_key_of_255_characters_is_accepted(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)

    response = await admin.post(f"{TASKS}/{task['id']}/trigger", json={"idempotency_key": "k" * 255})

    assert response.status_code == 202, response.text


async def test_a_tasks_runs_are_listed_newest_first(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    other = await create_task(admin, name="other")
    ids = [(await admin.post(f"{TASKS}/{task['id']}/trigger")).json()["id"] for _ in range(3)]
    await admin.post(f"{TASKS}/{other['id']}/trigger")

    page = (await admin.get(f"{TASKS}/{task['id']}/runs")).json()

    assert [run["id"] for run in page["items"]] == list(reversed(ids))
    assert page["next_cursor"] is None
