"""Tasks created over REST run as real shell commands in `scheduler standalone`."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest

from tests.e2e.standalone import ADMIN_KEY, Api, wait_for
from tests.worker_fixtures.http_server import serving

pytestmark = pytest.mark.e2e


def test_shell_task_output_is_read_back(api: Api) -> None:
    task = api.create_task(name="greet", command="echo hello from $SCHEDULER_RUN_ID; echo oops >&2")
    run = api.trigger(task["id"])

    done = api.wait_run(run["id"], {"succeeded", "failed"})

    assert done["status"] == "succeeded"
    assert done["exit_code"] == 0
    assert done["result"]["stdout"] == f"hello from {run['id']}\n"
    assert done["result"]["stderr"] == "oops\n"
    assert done["worker_id"]
    assert done["started_at"] <= done["completed_at"]


def test_commands_cannot_read_the_schedulers_credentials(api: Api) -> None:
    task = api.create_task(name="snoop", command="env", arguments={"env": {"GREETING": "hi"}})
    done = api.wait_run(api.trigger(task["id"])["id"], {"succeeded", "failed"})

    environment = done["result"]["stdout"]
    assert "GREETING=hi" in environment
    assert f"SCHEDULER_RUN_ID={done['id']}" in environment
    assert ADMIN_KEY not in environment
    assert "SCHEDULER_ADMIN_API_KEY" not in environment


def test_failing_command_is_retried_the_configured_number_of_times(api: Api) -> None:
    task = api.create_task(name="flaky", command="exit 3", max_retries=2, retry_backoff_seconds=0.1)
    api.trigger(task["id"])

    # A retry is stored in the same write as the failure it follows: once the third attempt has
    # failed with no fourth beside it, none will follow (a broken limit never lets this hold).
    runs = wait_for(
        lambda: len(r := api.runs_of(task["id"])) == 3 and all(x["status"] == "failed" for x in r) and r,
        timeout=30,
        what="three failed attempts and no fourth",
    )

    assert [run["attempt"] for run in runs] == [3, 2, 1]
    assert [run["trigger"] for run in runs] == ["retry", "retry", "manual"]
    assert {run["exit_code"] for run in runs} == {3}
    assert all("exit code 3" in run["error_message"] for run in runs)


def test_sleep_is_killed_by_its_timeout(api: Api) -> None:
    task = api.create_task(name="slow", command="sleep 60", timeout_seconds=1)
    started = time.monotonic()
    run = api.trigger(task["id"])

    done = api.wait_run(run["id"], {"timed_out", "succeeded", "failed"}, timeout=15)

    assert done["status"] == "timed_out"
    assert time.monotonic() - started < 10
    assert "timed out" in done["error_message"]


def test_running_task_is_cancelled(api: Api) -> None:
    task = api.create_task(name="long", command="sleep 60")
    run = api.trigger(task["id"])
    api.wait_run(run["id"], {"running"})

    response = api.http.post(f"/api/v1/runs/{run['id']}/cancel")
    assert response.status_code == 202, response.text
    done = api.wait_run(run["id"], {"cancelled", "failed", "succeeded"}, timeout=10)

    assert done["status"] == "cancelled"
    again = api.http.post(f"/api/v1/runs/{run['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


def test_every_second_cron_fires_once_per_second_and_stops_when_paused(api: Api) -> None:
    task = api.create_task(name="tick", command="true", schedule="* * * * * *")

    wait_for(lambda: len(api.runs_of(task["id"])) >= 4, timeout=15, what="four cron fires")
    paused = api.http.post(f"/api/v1/tasks/{task['id']}/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    count_at_pause = len(api.runs_of(task["id"]))
    # A schedule made after the pause, due at the same seconds: each of its fires is a scan in
    # which an unpaused tick would have fired too.
    witness = api.create_task(name="witness", command="true", schedule="* * * * * *")
    wait_for(lambda: len(api.runs_of(witness["id"])) >= 3, timeout=15, what="three fires after the pause")

    runs = api.runs_of(task["id"])
    fires = sorted(datetime.fromisoformat(run["scheduled_for"]) for run in runs)
    assert len(runs) == count_at_pause
    assert all(run["trigger"] == "schedule" for run in runs)
    assert all(fire.microsecond == 0 for fire in fires)
    gaps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(fires)}
    assert gaps == {1.0}, f"fires were not one second apart: {fires}"


def test_python_and_http_tasks_run_in_standalone(api: Api) -> None:
    python_task = api.create_task(
        name="py",
        task_type="python",
        command="textwrap:shorten",
        arguments={"text": "a b c d e f", "width": 7},
    )
    with serving() as server:
        http_task = api.create_task(
            name="web",
            task_type="http",
            command=server.url("/hook"),
            arguments={"method": "POST", "body": "ping"},
        )
        python_run = api.trigger(python_task["id"])
        http_run = api.trigger(http_task["id"])

        python_done = api.wait_run(python_run["id"], {"succeeded", "failed"})
        http_done = api.wait_run(http_run["id"], {"succeeded", "failed"})

        assert python_done["status"] == "succeeded", python_done["error_message"]
        assert python_done["result"]["return_value"] == "a [...]"
        assert http_done["status"] == "succeeded", http_done
        assert http_done["result"]["status_code"] == 200
        [request] = server.received
        assert (request.method, request.path, request.body) == ("POST", "/hook", b"ping")
        assert request.headers["X-Scheduler-Run-Id"] == str(http_run["id"])
