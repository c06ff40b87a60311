"""Runs over REST: list with filters, read, cancel."""

from __future__ import annotations

import httpx
import pytest

from scheduler_domain import RunStatus, worker_command_key
from scheduler_errors import Unavailable
from tests.api.conftest import World, assert_problem, create_task, fields_of

RUNS = "/api/v1/runs"


async def _trigger(client: httpx.AsyncClient, task_id: int) -> int:
    response = await client.post(f"/api/v1/tasks/{task_id}/trigger")
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


async def test_runs_are_listed_newest_first_across_pages(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    ids = [await _trigger(admin, task["id"]) for _ in range(5)]

    first = (await admin.get(RUNS, params={"limit": 3})).json()
    second = (await admin.get(RUNS, params={"limit": 3, "cursor": first["next_cursor"]})).json()

    assert [r["id"] for r in first["items"] + second["items"]] == list(reversed(ids))
    assert second["next_cursor"] is None


async def test_runs_filter_by_task_status_and_worker(world: World, admin: httpx.AsyncClient) -> None:
    one = await create_task(admin, name="one")
    two = await create_task(admin, name="two")
    pending = await _trigger(admin, one["id"])
    on_a = await _trigger(admin, one["id"])
    on_b = await _trigger(admin, two["id"])
    world.start(on_a, "worker-a")
    world.start(on_b, "worker-b")

    async def ids(**params: str | int) -> list[int]:
        response = await admin.get(RUNS, params=params)
        assert response.status_code == 200, response.text
        return [run["id"] for run in response.json()["items"]]

    assert await ids(task_id=one["id"]) == [on_a, pending]
    assert await ids(status="running") == [on_b, on_a]
    assert await ids(worker_id="worker-b") == [on_b]
    assert await ids(task_id=one["id"], status="pending") == [pending]


async def test_runs_filter_by_since(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    await _trigger(admin, task["id"])
    world.clock.advance(hours=2)
    late = await _trigger(admin, task["id"])

    with_offset = (await admin.get(RUNS, params={"since": "2026-01-01T01:00:00+00:00"})).json()
    without_offset = (await admin.get(RUNS, params={"since": "2026-01-01T01:00:00"})).json()
    other_zone = (await admin.get(RUNS, params={"since": "2026-01-01T02:00:00+01:00"})).json()

    assert [r["id"] for r in with_offset["items"]] == [late]
    assert [r["id"] for r in without_offset["items"]] == [late]
    assert [r["id"] for r in other_zone["items"]] == [late]


async def test_a_bad_since_is_422(admin: httpx.AsyncClient) -> None:
    response = await admin.get(RUNS, params={"since": "yesterday"})

    assert assert_problem(response, 422)["errors"][0]["field"] == "since"


@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
async def test_a_since_beyond_the_calendar_in_utc_is_422(admin: httpx.AsyncClient, since: str) -> None:
    response = await admin.get(RUNS, params={"since": since})

    problem = assert_problem(response, 422)
    assert fields_of(problem) == ["since"]
    assert "UTC" in problem["detail"]


async def test_get_one_run(admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    run_id = await _trigger(admin, task["id"])

    response = await admin.get(f"{RUNS}/{run_id}")

    assert response.status_code == 200
    assert response.json()["id"] == run_id
    assert response.json()["task_id"] == task["id"]
    assert_problem(await admin.get(f"{RUNS}/999"), 404)


async def test_cancel_a_pending_run_then_again_is_409(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    run_id = await _trigger(admin, task["id"])

    first = await admin.post(f"{RUNS}/{run_id}/cancel")
    again = await admin.post(f"{RUNS}/{run_id}/cancel")

    assert first.status_code == 202
    assert first.json()["status"] == "cancelled"
    assert world.run_rows.rows[run_id].status is RunStatus.CANCELLED
    assert "already ended" in assert_problem(again, 409)["detail"]


async def test_cancel_a_running_run_asks_its_worker(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    run_id = await _trigger(admin, task["id"])
    world.start(run_id, "worker-a")

    response = await admin.post(f"{RUNS}/{run_id}/cancel")

    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert response.json()["cancel_requested_at"] is not None
    assert len(world.queue.messages(worker_command_key("worker-a"))) == 1


async def test_cancel_when_the_queue_is_down_is_503(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    run_id = await _trigger(admin, task["id"])
    world.start(run_id, "worker-a")
    world.queue.fail_publish = Unavailable("the message queue does not answer")

    response = await admin.post(f"{RUNS}/{run_id}/cancel")

    assert "queue" in assert_problem(response, 503)["detail"]


async def test_cancel_an_unknown_run_is_404(admin: httpx.AsyncClient) -> None:
    assert_problem(await admin.post(f"{RUNS}/999/cancel"), 404)
