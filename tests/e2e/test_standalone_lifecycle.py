"""Start-up, bad input, restarts and shutdown of `scheduler standalone`."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import refusal_line
from tests.e2e.standalone import Api, Standalone, wait_for

pytestmark = pytest.mark.e2e


def test_bad_inputs_get_the_right_4xx_and_store_nothing(standalone: Standalone, api: Api) -> None:
    tasks = "/api/v1/tasks"
    malformed = api.http.post(tasks, content=b"{not json", headers={"content-type": "application/json"})
    missing = api.http.post(tasks, json={"command": "true"})
    bad_cron = api.http.post(tasks, json={"name": "x", "command": "true", "schedule": "every minute"})
    unknown_dep = api.http.post(tasks, json={"name": "y", "command": "true", "dependencies": [999]})
    no_key = httpx.post(f"{standalone.url}{tasks}", json={"name": "z", "command": "true"})

    assert malformed.status_code == 400
    assert missing.status_code == 422
    assert "name" in missing.text
    assert bad_cron.status_code == 422
    assert bad_cron.json()["errors"][0]["field"] == "schedule"
    assert unknown_dep.status_code == 422
    assert no_key.status_code == 401
    for response in (malformed, missing, bad_cron, unknown_dep, no_key):
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "Traceback" not in response.text
    assert api.http.get(tasks).json()["items"] == []
    assert api.http.get("/api/v1/tasks/12345").status_code == 404


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = Standalone(tmp_path / "data").start()
    with first.client() as client:
        api = Api(client)
        task = api.create_task(name="persisted", command="echo kept", schedule="0 3 * * *")
        run = api.trigger(task["id"])
        api.wait_run(run["id"], {"succeeded"})
    assert first.stop() == 0

    second = Standalone(tmp_path / "data").start()
    try:
        with second.client() as client:
            api = Api(client)
            again = api.http.get(f"/api/v1/tasks/{task['id']}").json()
            assert again["name"] == "persisted"
            assert again["next_run_at"] == task["next_run_at"]
            assert api.run(run["id"])["result"]["stdout"] == "kept\n"
            second_run = api.trigger(task["id"])
            assert second_run["id"] > run["id"]
            api.wait_run(second_run["id"], {"succeeded"})
    finally:
        assert second.stop() == 0


def test_first_start_prints_an_admin_key_once(tmp_path: Path) -> None:
    first = Standalone(tmp_path / "data", admin_key=None).start()
    try:
        match = wait_for(
            lambda: re.search(r"(sk_[A-Za-z0-9_-]+)", first.output()), timeout=5, what="the printed admin key"
        )
        key = match.group(1)
        with first.client(key) as client:
            assert client.get("/api/v1/tasks").status_code == 200
        with first.client("sk_wrong") as client:
            assert client.get("/api/v1/tasks").status_code == 401
    finally:
        assert first.stop() == 0
    stored = (tmp_path / "data").rglob("*")
    assert all(key not in path.read_bytes().decode("latin-1") for path in stored if path.is_file())

    second = Standalone(tmp_path / "data", admin_key=None).start()
    try:
        with second.client(key) as client:
            assert client.get("/api/v1/tasks").status_code == 200
    finally:
        assert second.stop() == 0
    assert "sk_" not in second.output()


def test_sigint_stops_a_busy_process_quickly(tmp_path: Path) -> None:
    process = Standalone(tmp_path / "data").start()
    with process.client() as client:
        api = Api(client)
        task = api.create_task(name="busy", command="sleep 60")
        run = api.trigger(task["id"])
        api.wait_run(run["id"], {"running"})

    assert process.stop(sig=signal.SIGINT, timeout=10) == 0


@pytest.mark.parametrize("role", ["api", "dispatcher", "worker"])
def test_a_role_alone_on_embedded_settings_refuses_in_one_line(role: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scheduler_app", role],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "standalone" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_second_standalone_on_the_same_data_dir_refuses_in_one_line(standalone: Standalone) -> None:
    # Two processes on one SQLite file would each dispatch and sweep with a queue of their own.
    second = Standalone(standalone.data_dir)
    result = subprocess.run(
        second.command(),
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(standalone.data_dir.parent)},
        check=False,
    )

    line = refusal_line(result)
    assert str(standalone.data_dir) in line
    assert "another `scheduler standalone`" in line
    assert result.stdout == ""  # no admin key created by the refused process
    standalone.check_alive()


def test_the_in_process_worker_is_listed_and_its_runs_survive_a_crash_of_the_process(tmp_path: Path) -> None:
    env = {
        "SCHEDULER_DISPATCHER__WORKER_TIMEOUT_SECONDS": "2",
        "SCHEDULER_DISPATCHER__SWEEP_INTERVAL_SECONDS": "0.5",
        "SCHEDULER_WORKER__HEARTBEAT_INTERVAL_SECONDS": "0.5",
    }
    # The first attempt runs until the process that started it is gone; the retry just succeeds.
    command = (
        'if [ "$SCHEDULER_ATTEMPT" = 1 ]; then while kill -0 $PPID 2>/dev/null; do sleep 0.1; done; '
        "else echo recovered; fi"
    )
    first = Standalone(tmp_path / "data", env=env).start()
    with first.client() as client:
        api = Api(client)
        task = api.create_task(name="long", command=command, max_retries=1, retry_backoff_seconds=0)
        run = api.wait_run(api.trigger(task["id"])["id"], {"running"})
        listed = api.http.get("/api/v1/workers").json()["items"]
    assert [(worker["id"], worker["status"]) for worker in listed] == [(run["worker_id"], "online")]
    first.stop(sig=signal.SIGKILL)  # a crash: nothing is reported, the worker is not deregistered

    second = Standalone(tmp_path / "data", env=env).start()
    try:
        with second.client() as client:
            api = Api(client)
            lost = api.wait_run(run["id"], {"failed"}, timeout=30)
            retry = wait_for(
                lambda: [
                    r for r in api.runs_of(task["id"]) if r["attempt"] == 2 and r["status"] == "succeeded"
                ],
                timeout=30,
                what="the retry to succeed",
            )[0]
            crashed = api.http.get(f"/api/v1/workers/{run['worker_id']}").json()
    finally:
        assert second.stop() == 0

    assert "worker_lost" in lost["error_message"]
    assert retry["result"]["stdout"] == "recovered\n"
    assert retry["worker_id"] != run["worker_id"]
    assert crashed["status"] == "offline"
