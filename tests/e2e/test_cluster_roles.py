"""`scheduler migrate`, `api` and `dispatcher` as separate processes on PostgreSQL and a broker."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from tests.e2e.cluster import (
    POSTGRES_URL,
    RoleProcess,
    broker_namespace,
    cluster_env,
    dispatch_listeners,
    private_schema,
    refusal_line,
    scheduler,
)
from tests.e2e.standalone import Api, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url() -> Iterator[str]:
    with private_schema() as url:
        yield url


def test_roles_refuse_an_unmigrated_database_and_say_what_to_run(database_url: str, tmp_path: Path) -> None:
    env = cluster_env(database_url, "redis", f"e2e-{secrets.token_hex(4)}")

    for role in ("api", "dispatcher"):
        refused = scheduler(role, env=env, cwd=tmp_path)
        assert refused.returncode != 0
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1, refused.stderr
        assert "scheduler migrate" in lines[0]

    first = scheduler("migrate", env=env, cwd=tmp_path)
    again = scheduler("migrate", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert first.stdout == again.stdout
    assert "schema version" in first.stdout


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_trigger_on_the_api_is_dispatched_by_a_dispatcher_process(
    broker: str, database_url: str, tmp_path: Path
) -> None:
    with broker_namespace(broker) as namespace:
        run_one_trigger(cluster_env(database_url, broker, namespace), tmp_path)


def run_one_trigger(env: dict[str, str], tmp_path: Path) -> None:
    assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
    api_process = RoleProcess("api", tmp_path, env).start()
    dispatcher = RoleProcess("dispatcher", tmp_path, env).start()
    try:
        wait_for(
            lambda: dispatch_listeners(env["SCHEDULER_DATABASE__URL"]) >= 1,
            timeout=10,
            what="the dispatcher to LISTEN for wake-ups (it does so after its first pass)",
        )
        with api_process.client() as client:
            api = Api(client)
            ready = client.get("/ready")
            assert ready.status_code == 200, ready.text
            task = api.create_task(name="remote", command="echo hi")
            triggered = time.monotonic()
            run = api.trigger(task["id"])

            queued = api.wait_run(run["id"], {"queued"}, timeout=10)

            # the dispatcher scans every 5 s: only the LISTEN/NOTIFY wake-up is this quick
            assert time.monotonic() - triggered < 3
            assert queued["queued_at"] is not None
            with_arguments = api.trigger(task["id"], arguments={"GREETING": "hi"})
            client.delete(f"/api/v1/tasks/{task['id']}")
            refused = client.post(f"/api/v1/tasks/{task['id']}/trigger")
            assert refused.status_code == 409, refused.text

            # one entry per write, whichever way it was stored: the first trigger's with its run
            # (one statement), the others' by the API once answered
            audit = client.get("/api/v1/audit-log").json()["items"]
            assert [(entry["action"], entry["outcome"], entry["detail"]) for entry in audit] == [
                ("task.trigger", 409, {}),
                ("task.archive", 204, {}),
                ("task.trigger", 202, {"run_id": with_arguments["id"]}),
                ("task.trigger", 202, {"run_id": run["id"]}),
                ("task.create", 201, {"name": "remote"}),
            ]
            assert {(entry["actor"], entry["source_ip"], entry["resource"]) for entry in audit} == {
                (audit[-1]["actor"], "127.0.0.1", f"task:{task['id']}")
            }
    finally:
        assert api_process.stop() == 0, api_process.logs()
        assert dispatcher.stop() == 0, dispatcher.logs()


def test_an_api_key_made_by_the_cli_works_on_the_api(database_url: str, tmp_path: Path) -> None:
    env = cluster_env(database_url, "redis", f"e2e-{secrets.token_hex(4)}")
    assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
    made = scheduler("apikey", "create", "--name", "ci", "--role", "readonly", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    api_process = RoleProcess("api", tmp_path, env).start()
    try:
        with api_process.client(key) as client:
            assert client.get("/api/v1/tasks").status_code == 200
            assert client.post("/api/v1/tasks", json={"name": "x", "command": "true"}).status_code == 403
    finally:
        assert api_process.stop() == 0, api_process.logs()


def test_a_key_revoked_from_the_command_line_stops_working_on_a_running_api_at_once(
    database_url: str, tmp_path: Path
) -> None:
    # the API trusts a key it has read for an hour: only the announced change can end it sooner
    env = {
        **cluster_env(database_url, "redis", f"e2e-{secrets.token_hex(4)}"),
        "SCHEDULER_API__KEY_CACHE_SECONDS": "3600",
    }
    assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
    made = scheduler("apikey", "create", "--name", "ci", "--role", "readonly", env=env, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    api_process = RoleProcess("api", tmp_path, env).start()
    try:
        with api_process.client(made.stdout.strip()) as client:
            assert client.get("/api/v1/tasks").status_code == 200  # read, and remembered
            listed = scheduler("apikey", "list", env=env, cwd=tmp_path).stdout.splitlines()
            [key_id] = [line.split()[0] for line in listed if line.split()[1:3] == ["ci", "readonly"]]
            revoked = scheduler("apikey", "revoke", key_id, env=env, cwd=tmp_path)
            assert revoked.returncode == 0, revoked.stderr

            wait_for(
                lambda: client.get("/api/v1/tasks").status_code == 401,
                timeout=5,
                what="the API to refuse the revoked key",
            )
    finally:
        assert api_process.stop() == 0, api_process.logs()


def test_two_concurrent_migrate_commands_are_safe(database_url: str, tmp_path: Path) -> None:
    env = cluster_env(database_url, "redis", f"e2e-{secrets.token_hex(4)}.")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    command = [sys.executable, "-m", "scheduler_app", "migrate"]
    both = [
        subprocess.Popen(
            command,
            env={**clean, **env},
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=60) for process in both]

    assert [process.returncode for process in both] == [0, 0], results
    assert results[0][0] == results[1][0]
    assert "schema version" in results[0][0]


def test_migrate_on_a_search_path_naming_no_schema_says_so_in_one_line(tmp_path: Path) -> None:
    missing = f"e2e_missing_{secrets.token_hex(4)}"
    url = make_conninfo(POSTGRES_URL, options=f"-c search_path={missing}")
    env = cluster_env(url, "redis", f"e2e-{secrets.token_hex(4)}")

    result = scheduler("migrate", env=env, cwd=tmp_path)

    line = refusal_line(result)
    assert "CREATE SCHEMA" in line
    assert "database.url" in line
