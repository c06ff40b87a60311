"""Workers over REST: register, heartbeat, list, read, deregister."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from scheduler_domain import Role, WorkerStatus
from tests.api.conftest import World, assert_problem, fields_of

WORKERS = "/api/v1/workers"


def _registration(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "host-1-123",
        "hostname": "host-1",
        "ip_address": "10.0.0.5",
        "port": 9000,
        "task_types": ["shell", "http"],
        "max_concurrent_tasks": 4,
        **overrides,
    }


async def test_register_is_201_and_online(world: World, admin: httpx.AsyncClient) -> None:
    response = await admin.post(WORKERS, json=_registration(metadata={"zone": "a"}))

    assert response.status_code == 201
    worker = response.json()
    assert worker["id"] == "host-1-123"
    assert worker["status"] == "online"
    assert worker["task_types"] == ["shell", "http"]
    assert worker["metadata"] == {"zone": "a"}
    assert worker["registered_at"] == "2026-01-01T00:00:00Z"
    assert world.worker_rows.rows["host-1-123"].status is WorkerStatus.ONLINE


async def test_register_without_an_id_gets_one_from_the_hostname(admin: httpx.AsyncClient) -> None:
    body = _registration()
    del body["id"]

    first = (await admin.post(WORKERS, json=body)).json()
    second = (await admin.post(WORKERS, json=body)).json()

    assert first["id"].startswith("host-1-")
    assert first["id"] != second["id"]


async def test_register_with_bad_input_is_422_and_stores_nothing(
    world: World, admin: httpx.AsyncClient
) -> None:
    no_types = await admin.post(WORKERS, json=_registration(task_types=[]))
    no_host = await admin.post(WORKERS, json={k: v for k, v in _registration().items() if k != "hostname"})
    bad_type = await admin.post(WORKERS, json=_registration(task_types=["ftp"]))

    assert fields_of(assert_problem(no_types, 422)) == ["task_types"]
    assert fields_of(assert_problem(no_host, 422)) == ["hostname"]
    assert fields_of(assert_problem(bad_type, 422)) == ["task_types[0]"]
    assert world.worker_rows.rows == {}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"port": 99999999999999999999}, "port"),
        ({"port": 70000}, "port"),
        ({"port": -1}, "port"),
        ({"ip_address": "not-an-ip"}, "ip_address"),
        ({"ip_address": ""}, "ip_address"),
        ({"ip_address": "fe80::1%eth0"}, "ip_address"),  # PostgreSQL's inet keeps no zone id
        ({"hostname": " "}, "hostname"),
        ({"max_concurrent_tasks": 2**70}, "max_concurrent_tasks"),
        ({"max_concurrent_tasks": 2**40}, "max_concurrent_tasks"),
        ({"hostname": "h\x00"}, "hostname"),
        ({"id": "w\x00"}, "id"),
        ({"id": "w" * 321}, "id"),
        ({"hostname": "h" * 321}, "hostname"),
        ({"metadata": {"rack": "\x00"}}, "metadata.rack"),
    ],
)
async def test_a_registration_out_of_range_is_422_naming_the_field_and_stores_nothing(
    world: World, admin: httpx.AsyncClient, overrides: dict[str, Any], field: str
) -> None:
    response = await admin.post(WORKERS, json=_registration(**overrides))

    assert fields_of(assert_problem(response, 422)) == [field]
    assert world.worker_rows.rows == {}


async def test_an_ipv6_address_and_port_zero_are_accepted(admin: httpx.AsyncClient) -> None:
    response = await admin.post(WORKERS, json=_registration(ip_address="::1", port=0))

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("count", [-1, 2**40, 99999999999999999999])
async def test_a_heartbeat_with_an_impossible_task_count_is_422_and_changes_nothing(
    world: World, admin: httpx.AsyncClient, count: int
) -> None:
    await admin.post(WORKERS, json=_registration())
    before = world.worker_rows.rows["host-1-123"]
    world.clock.advance(30)

    response = await admin.post(f"{WORKERS}/host-1-123/heartbeat", json={"current_task_count": count})

    assert fields_of(assert_problem(response, 422)) == ["current_task_count"]
    assert world.worker_rows.rows["host-1-123"] == before


@pytest.mark.parametrize("status", ["offline", "registering"])
async def test_a_heartbeat_cannot_say_the_worker_is_not_alive(
    world: World, admin: httpx.AsyncClient, status: str
) -> None:
    await admin.post(WORKERS, json=_registration())
    before = world.worker_rows.rows["host-1-123"]

    response = await admin.post(
        f"{WORKERS}/host-1-123/heartbeat", json={"current_task_count": 0, "status": status}
    )

    assert fields_of(assert_problem(response, 422)) == ["status"]
    assert world.worker_rows.rows["host-1-123"] == before


async def test_heartbeat_records_load_and_time(world: World, admin: httpx.AsyncClient) -> None:
    await admin.post(WORKERS, json=_registration())
    world.clock.advance(30)

    response = await admin.post(f"{WORKERS}/host-1-123/heartbeat", json={"current_task_count": 3})
    draining = await admin.post(
        f"{WORKERS}/host-1-123/heartbeat", json={"current_task_count": 1, "status": "draining"}
    )

    assert response.status_code == 200
    assert response.json()["current_task_count"] == 3
    assert response.json()["last_heartbeat"] == "2026-01-01T00:00:30Z"
    assert draining.json()["status"] == "draining"
    assert world.worker_rows.rows["host-1-123"].current_task_count == 1


async def test_heartbeat_of_an_unknown_worker_is_404(admin: httpx.AsyncClient) -> None:
    response = await admin.post(f"{WORKERS}/ghost/heartbeat", json={"current_task_count": 0})

    assert_problem(response, 404)


async def test_list_and_get(admin: httpx.AsyncClient) -> None:
    await admin.post(WORKERS, json=_registration(id="b"))
    await admin.post(WORKERS, json=_registration(id="a"))

    listed = (await admin.get(WORKERS)).json()
    one = await admin.get(f"{WORKERS}/b")

    assert [w["id"] for w in listed["items"]] == ["a", "b"]
    assert listed["next_cursor"] is None
    assert one.status_code == 200
    assert one.json()["id"] == "b"
    assert_problem(await admin.get(f"{WORKERS}/c"), 404)


async def test_deregister_is_204_then_404(world: World, admin: httpx.AsyncClient) -> None:
    await admin.post(WORKERS, json=_registration())

    gone = await admin.delete(f"{WORKERS}/host-1-123")
    again = await admin.delete(f"{WORKERS}/host-1-123")

    assert gone.status_code == 204
    assert world.worker_rows.rows == {}
    assert_problem(again, 404)


async def test_workers_are_listed_by_id_a_page_at_a_time(admin: httpx.AsyncClient) -> None:
    for worker_id in ("w-c", "w-a", "w-b"):
        await admin.post(WORKERS, json=_registration(id=worker_id))

    first = (await admin.get(WORKERS, params={"limit": 2})).json()
    second = (await admin.get(WORKERS, params={"limit": 2, "cursor": first["next_cursor"]})).json()

    assert [w["id"] for w in first["items"]] == ["w-a", "w-b"]
    assert [w["id"] for w in second["items"]] == ["w-c"]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    ("params", "field"),
    [({"cursor": "garbage"}, "cursor"), ({"cursor": "aWQ6Mw"}, "cursor"), ({"limit": 0}, "limit")],
)
async def test_a_bad_cursor_or_limit_of_the_workers_list_is_422(
    admin: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    # "aWQ6Mw" is a cursor of the id-ordered lists (runs, tasks): not one of this list's.
    assert fields_of(assert_problem(await admin.get(WORKERS, params=params), 422)) == [field]


async def test_a_worker_key_acts_only_for_the_workers_it_registered(
    world: World, admin: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    owner = {"X-API-Key": await world.key(Role.WORKER)}
    other = {"X-API-Key": await world.key(Role.WORKER)}
    registered = await anonymous.post(WORKERS, json=_registration(), headers=owner)
    worker_id = registered.json()["id"]
    beat = {"current_task_count": 3}

    foreign_beat = await anonymous.post(f"{WORKERS}/{worker_id}/heartbeat", json=beat, headers=other)
    foreign_leave = await anonymous.delete(f"{WORKERS}/{worker_id}", headers=other)
    taken_id = await anonymous.post(WORKERS, json=_registration(max_concurrent_tasks=9), headers=other)
    own_beat = await anonymous.post(f"{WORKERS}/{worker_id}/heartbeat", json=beat, headers=owner)

    assert registered.status_code == 201
    assert registered.json()["registered_by"].startswith("apikey:")
    assert "registered with another worker key" in assert_problem(foreign_beat, 403)["detail"]
    assert "registered with another worker key" in assert_problem(foreign_leave, 403)["detail"]
    assert "under another worker key" in assert_problem(taken_id, 409)["detail"]
    assert own_beat.status_code == 200
    stored = world.worker_rows.rows[worker_id]
    assert (stored.max_concurrent_tasks, stored.current_task_count) == (4, 3)
    assert stored.registered_by == registered.json()["registered_by"]
    # an operator or an admin manages every worker
    assert (await admin.delete(f"{WORKERS}/{worker_id}")).status_code == 204
    assert world.worker_rows.rows == {}


async def test_a_worker_id_left_offline_can_be_registered_by_another_worker_key(
    world: World, anonymous: httpx.AsyncClient
) -> None:
    first = {"X-API-Key": await world.key(Role.WORKER)}
    second = {"X-API-Key": await world.key(Role.WORKER)}
    await anonymous.post(WORKERS, json=_registration(), headers=first)
    stored = world.worker_rows.rows["host-1-123"]
    world.worker_rows.rows["host-1-123"] = msgspec.structs.replace(stored, status=WorkerStatus.OFFLINE)

    again = await anonymous.post(WORKERS, json=_registration(), headers=second)
    old_beat = await anonymous.post(
        f"{WORKERS}/host-1-123/heartbeat", json={"current_task_count": 0}, headers=first
    )

    assert again.status_code == 201
    assert again.json()["registered_by"] != stored.registered_by
    assert_problem(old_beat, 403)
