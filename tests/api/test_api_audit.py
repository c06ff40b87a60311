"""The audit log over REST: every write is recorded (who, what, when, from where), reads are not."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import msgspec
import pytest
from litestar import post
from litestar.testing import AsyncTestClient

from scheduler_api.audit import unaudited_writes
from scheduler_api.auth import requires
from scheduler_domain import AuditEntry, Permission, Role
from scheduler_errors import Unavailable
from scheduler_testing import FakeAuditLogRepository
from tests.api.conftest import World, assert_problem, create_task, fields_of

AUDIT = "/api/v1/audit-log"
ADMIN = "apikey:1:admin-key"
CLIENT = "testclient"  # the client address Litestar's test client connects from

WORKER = {
    "id": "w1",
    "hostname": "host-1",
    "ip_address": "10.0.0.5",
    "port": 9000,
    "task_types": ["shell"],
    "max_concurrent_tasks": 2,
}


def recorded(world: World) -> list[tuple[str, str, int]]:
    """(action, resource, outcome) of every stored entry, oldest first."""
    return [(entry.action, entry.resource, entry.outcome) for entry in world.audit_rows.rows]


def log_text(world: World) -> str:
    return msgspec.json.encode(world.audit_rows.rows).decode()


async def test_every_kind_of_write_is_recorded_with_who_what_and_from_where(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin, name="nightly")
    tid = task["id"]
    await admin.patch(f"/api/v1/tasks/{tid}", json={"description": "d"})
    await admin.post(f"/api/v1/tasks/{tid}/pause")
    await admin.post(f"/api/v1/tasks/{tid}/resume")
    run = (await admin.post(f"/api/v1/tasks/{tid}/trigger")).json()
    await admin.post(f"/api/v1/runs/{run['id']}/cancel")
    await admin.delete(f"/api/v1/tasks/{tid}")
    await admin.post("/api/v1/workers", json=WORKER)
    await admin.delete("/api/v1/workers/w1")
    key = (await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "readonly"})).json()
    await admin.delete(f"/api/v1/api-keys/{key['id']}")

    assert recorded(world) == [
        ("task.create", f"task:{tid}", 201),
        ("task.update", f"task:{tid}", 200),
        ("task.pause", f"task:{tid}", 200),
        ("task.resume", f"task:{tid}", 200),
        ("task.trigger", f"task:{tid}", 202),
        ("run.cancel", f"run:{run['id']}", 202),
        ("task.archive", f"task:{tid}", 204),
        ("worker.register", "worker:w1", 201),
        ("worker.deregister", "worker:w1", 204),
        ("api_key.create", f"api_key:{key['id']}", 201),
        ("api_key.revoke", f"api_key:{key['id']}", 204),
    ]
    assert {entry.actor for entry in world.audit_rows.rows} == {ADMIN}
    assert {entry.source_ip for entry in world.audit_rows.rows} == {CLIENT}
    assert {entry.at for entry in world.audit_rows.rows} == {world.clock.now()}


async def test_the_detail_names_what_matters_and_nothing_more(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin, name="nightly")
    run = (await admin.post(f"/api/v1/tasks/{task['id']}/trigger")).json()
    await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "operator"})
    await admin.post("/api/v1/workers", json=WORKER)

    details = [entry.detail for entry in world.audit_rows.rows]

    assert details == [{"name": "nightly"}, {"run_id": run["id"]}, {"name": "ci", "role": "operator"}, {}]


async def test_a_patch_records_the_names_of_the_fields_it_sets_never_their_values(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    body = {"arguments": {"env": {"DB_PASSWORD": "hunter2-secret"}}, "schedule": None}

    response = await admin.patch(f"/api/v1/tasks/{task['id']}", json=body)

    assert response.status_code == 200
    assert world.audit_rows.rows[-1].detail == {"fields": ["arguments", "schedule"]}
    assert "hunter2-secret" not in log_text(world)
    assert "DB_PASSWORD" not in log_text(world)


async def test_a_new_api_key_secret_is_never_in_the_log(world: World, admin: httpx.AsyncClient) -> None:
    created = (await admin.post("/api/v1/api-keys", json={"name": "ci", "role": "admin"})).json()
    headers = {"X-API-Key": created["key"]}
    await create_task(admin)
    await admin.post("/api/v1/tasks", json={"name": "by-ci", "command": "true"}, headers=headers)

    listed = await admin.get(AUDIT)

    assert len(world.audit_rows.rows) == 3
    assert world.audit_rows.rows[-1].actor == f"apikey:{created['id']}:ci"
    for entry in world.audit_rows.rows:
        assert created["key"] not in msgspec.json.encode(entry).decode()
    assert created["key"] not in listed.text


async def test_reads_are_not_recorded(world: World, admin: httpx.AsyncClient) -> None:
    task = await create_task(admin)
    await admin.post("/api/v1/workers", json=WORKER)
    before = recorded(world)

    for path in (
        "/api/v1/tasks",
        f"/api/v1/tasks/{task['id']}",
        f"/api/v1/tasks/{task['id']}/runs",
        "/api/v1/runs",
        "/api/v1/workers",
        "/api/v1/workers/w1",
        "/api/v1/api-keys",
        AUDIT,
        "/health",
        "/ready",
    ):
        assert (await admin.get(path)).status_code == 200, path

    assert recorded(world) == before


async def test_heartbeats_are_not_recorded(world: World, admin: httpx.AsyncClient) -> None:
    await admin.post("/api/v1/workers", json=WORKER)

    beat = await admin.post("/api/v1/workers/w1/heartbeat", json={"current_task_count": 1})

    assert beat.status_code == 200
    assert [action for action, _, _ in recorded(world)] == ["worker.register"]


async def test_failed_writes_past_authentication_are_recorded_with_their_status(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin)
    run = (await admin.post(f"/api/v1/tasks/{task['id']}/trigger")).json()
    await admin.post(f"/api/v1/runs/{run['id']}/cancel")

    again = await admin.post(f"/api/v1/runs/{run['id']}/cancel")
    unknown = await admin.post("/api/v1/tasks/999/pause")
    bad_cron = await admin.post("/api/v1/tasks", json={"name": "x", "command": "true", "schedule": "nope"})
    malformed = await admin.patch(f"/api/v1/tasks/{task['id']}", content=b"{not json")

    assert_problem(again, 409)
    assert_problem(unknown, 404)
    assert fields_of(assert_problem(bad_cron, 422)) == ["schedule"]
    assert_problem(malformed, 400)
    assert recorded(world)[-4:] == [
        ("run.cancel", f"run:{run['id']}", 409),
        ("task.pause", "task:999", 404),
        ("task.create", "task", 422),
        ("task.update", f"task:{task['id']}", 400),
    ]
    assert world.audit_rows.rows[-1].detail == {"fields": []}


async def test_refused_credentials_are_not_recorded(world: World, anonymous: httpx.AsyncClient) -> None:
    readonly = {"X-API-Key": await world.key(Role.READONLY)}
    body = {"name": "x", "command": "true"}

    no_key = await anonymous.post("/api/v1/tasks", json=body)
    bad_key = await anonymous.post("/api/v1/tasks", json=body, headers={"X-API-Key": "sk_wrong"})
    not_allowed = await anonymous.post("/api/v1/tasks", json=body, headers=readonly)

    assert_problem(no_key, 401)
    assert_problem(bad_key, 401)
    assert_problem(not_allowed, 403)
    assert world.audit_rows.rows == []


async def test_forwarding_headers_are_not_trusted_for_the_source(
    world: World, admin: httpx.AsyncClient
) -> None:
    await admin.post(
        "/api/v1/workers", json=WORKER, headers={"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    )

    assert world.audit_rows.rows[0].source_ip == CLIENT


class BrokenAuditLog(FakeAuditLogRepository):
    """An audit store that is down."""

    async def record(self, entry: AuditEntry) -> AuditEntry:
        raise Unavailable("the audit store does not answer")


async def test_a_write_still_answers_when_its_audit_entry_cannot_be_stored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = World(audit_rows=BrokenAuditLog())
    headers = {"X-API-Key": await world.key(Role.ADMIN)}

    async with AsyncTestClient(app=world.app()) as client:
        with caplog.at_level(logging.ERROR, logger="scheduler_api.audit"):
            response = await client.post(
                "/api/v1/tasks", json={"name": "x", "command": "true"}, headers=headers
            )

    assert response.status_code == 201
    assert len(world.task_rows.rows) == 1
    [record] = [r for r in caplog.records if r.name == "scheduler_api.audit"]
    assert "task.create" in record.getMessage()
    assert record.exc_info is not None


def test_a_write_route_without_an_audit_rule_is_found() -> None:
    @post("/forgotten", opt=requires(Permission.TASK_WRITE))
    async def forgotten() -> None:
        """A write that says nothing about auditing."""

    assert unaudited_writes([forgotten]) == ["forgotten"]


# ---------------------------------------------------------------- GET /api/v1/audit-log


async def _entries(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(AUDIT, params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_log_lists_newest_first_in_the_documented_shape(
    world: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin, name="nightly")
    world.clock.advance(60)
    await admin.post(f"/api/v1/tasks/{task['id']}/pause")

    page = await _entries(admin)

    assert page["next_cursor"] is None
    assert [item["action"] for item in page["items"]] == ["task.pause", "task.create"]
    assert page["items"][1] == {
        "id": 1,
        "actor": ADMIN,
        "action": "task.create",
        "resource": f"task:{task['id']}",
        "at": "2026-01-01T00:00:00Z",
        "source_ip": CLIENT,
        "outcome": 201,
        "detail": {"name": "nightly"},
    }
    assert page["items"][0]["at"] == "2026-01-01T00:01:00Z"


async def test_the_log_paginates_with_an_opaque_cursor(admin: httpx.AsyncClient) -> None:
    for number in range(5):
        await create_task(admin, name=f"t{number}")

    first = await _entries(admin, limit=2)
    second = await _entries(admin, limit=2, cursor=first["next_cursor"])
    third = await _entries(admin, limit=2, cursor=second["next_cursor"])

    ids = [[item["id"] for item in page["items"]] for page in (first, second, third)]
    assert ids == [[5, 4], [3, 2], [1]]
    assert third["next_cursor"] is None


async def test_the_log_filters_by_actor_and_resource(world: World, admin: httpx.AsyncClient) -> None:
    operator = await world.key(Role.OPERATOR)
    first = await create_task(admin, name="a")
    second = await create_task(admin, name="b")
    await admin.post(f"/api/v1/tasks/{first['id']}/pause", headers={"X-API-Key": operator})
    await admin.post(f"/api/v1/tasks/{second['id']}/pause")

    by_operator = await _entries(admin, actor="apikey:2:operator-key")
    on_first = await _entries(admin, resource=f"task:{first['id']}")
    both = await _entries(admin, actor=ADMIN, resource=f"task:{second['id']}")

    assert [(i["action"], i["resource"]) for i in by_operator["items"]] == [("task.pause", "task:1")]
    assert [i["action"] for i in on_first["items"]] == ["task.pause", "task.create"]
    assert [i["action"] for i in both["items"]] == ["task.pause", "task.create"]


async def test_bad_listing_parameters_are_422(admin: httpx.AsyncClient) -> None:
    assert fields_of(assert_problem(await admin.get(AUDIT, params={"limit": 501}), 422)) == ["limit"]
    assert fields_of(assert_problem(await admin.get(AUDIT, params={"limit": 0}), 422)) == ["limit"]
    assert fields_of(assert_problem(await admin.get(AUDIT, params={"cursor": "garbage"}), 422)) == ["cursor"]


@pytest.mark.parametrize(("role", "status"), [(Role.READONLY, 200), (Role.OPERATOR, 200), (Role.WORKER, 403)])
async def test_reading_the_log_needs_system_read(
    world: World, anonymous: httpx.AsyncClient, role: Role, status: int
) -> None:
    response = await anonymous.get(AUDIT, headers={"X-API-Key": await world.key(role)})

    assert response.status_code == status


async def test_the_log_is_in_the_openapi_document(anonymous: httpx.AsyncClient) -> None:
    document = (await anonymous.get("/schema/openapi.json")).json()

    listing = document["paths"][AUDIT]["get"]
    assert {parameter["name"] for parameter in listing["parameters"]} >= {
        "actor",
        "resource",
        "limit",
        "cursor",
    }
    assert set(document["components"]["schemas"]["AuditEntryOut"]["properties"]) == {
        "id",
        "actor",
        "action",
        "resource",
        "at",
        "source_ip",
        "outcome",
        "detail",
    }


async def test_reading_the_log_needs_a_credential(anonymous: httpx.AsyncClient) -> None:
    assert_problem(await anonymous.get(AUDIT), 401)


@pytest.fixture
def one_step(world: World) -> World:
    """Manual runs stored in one step with their audit entry, as on PostgreSQL."""
    world.one_step_triggers = True
    return world


async def test_a_trigger_stored_in_one_step_gets_the_entry_the_api_would_have_stored(
    one_step: World, admin: httpx.AsyncClient
) -> None:
    task = await create_task(admin, name="nightly")

    run = (await admin.post(f"/api/v1/tasks/{task['id']}/trigger")).json()  # one step
    other = (await admin.post(f"/api/v1/tasks/{task['id']}/trigger", json={"arguments": {"x": 1}})).json()

    assert one_step.manual_runs.audited == 1  # the first entry came with its run
    *_, with_run, by_api = one_step.audit_rows.rows
    assert (with_run.detail, by_api.detail) == ({"run_id": run["id"]}, {"run_id": other["id"]})
    same = ("actor", "action", "resource", "at", "source_ip", "outcome")
    assert [getattr(with_run, name) for name in same] == [getattr(by_api, name) for name in same]
    assert recorded(one_step).count(("task.trigger", f"task:{task['id']}", 202)) == 2  # once each


class FailingWakeup:
    """A wake-up that fails: the trigger's answer fails after its run was stored."""

    def notify(self) -> None:
        raise RuntimeError("wake-up broken")


async def test_a_trigger_that_fails_after_its_write_records_the_answer_too(one_step: World) -> None:
    one_step.wakeup = FailingWakeup()  # type: ignore[assignment]
    async with AsyncTestClient(app=one_step.app()) as client:
        client.headers["X-API-Key"] = await one_step.key(Role.ADMIN)
        task = await create_task(client)

        answered = await client.post(f"/api/v1/tasks/{task['id']}/trigger")

    assert answered.status_code == 500
    assert [(action, outcome) for action, _, outcome in recorded(one_step)][-2:] == [
        ("task.trigger", 202),  # stored with the run
        ("task.trigger", 500),  # what was answered
    ]
