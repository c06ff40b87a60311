"""The whole system as separate processes: api, two dispatchers, two workers, on PostgreSQL + a broker."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.cluster import (
    WORKER_SETTINGS,
    RoleProcess,
    broker_namespace,
    cluster_env,
    make_key,
    private_schema,
    refusal_line,
    scheduler,
)
from tests.e2e.standalone import Api, wait_for
from tests.worker_fixtures.http_server import serving

pytestmark = pytest.mark.e2e


@dataclass
class Cluster:
    env: dict[str, str]
    workdir: Path
    api: RoleProcess
    processes: list[RoleProcess]

    def worker(self, worker_id: str, key: str) -> RoleProcess:
        env = {**self.env, "SCHEDULER_WORKER__API_KEY": key}
        args = ("--worker-id", worker_id, "--api-url", self.api.url)
        process = RoleProcess("worker", self.workdir, env, args=args).start()
        self.processes.append(process)
        return process


@pytest.fixture(params=["redis", "rabbitmq"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    with private_schema() as database_url, broker_namespace(request.param) as namespace:
        env = {**cluster_env(database_url, request.param, namespace), **WORKER_SETTINGS}
        assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
        api = RoleProcess("api", tmp_path, env).start()
        processes = [api, *(RoleProcess("dispatcher", tmp_path, env).start() for _ in range(2))]
        built = Cluster(env, tmp_path, api, processes)
        try:
            yield built
        finally:
            for process in reversed(built.processes):
                process.stop(timeout=20)


def test_shell_http_python_and_cron_tasks_run_on_two_workers(cluster: Cluster) -> None:
    key = make_key(cluster.env, cluster.workdir, "worker")
    cluster.worker("w-a", key)
    cluster.worker("w-b", key)
    with cluster.api.client() as client, serving() as server:
        api = Api(client)
        shell = api.create_task(name="sh", command="echo from $SCHEDULER_RUN_ID")
        python = api.create_task(
            name="py",
            task_type="python",
            command="textwrap:shorten",
            arguments={"text": "a b c d e f", "width": 9},
        )
        http = api.create_task(name="web", task_type="http", command=server.url("/ping"))
        tick = api.create_task(name="tick", command="true", schedule="* * * * * *")
        top = api.create_task(name="top", command="true")
        left = api.create_task(name="left", command="true", dependencies=[top["id"]])
        right = api.create_task(name="right", command="true", dependencies=[top["id"]])
        bottom = api.create_task(name="bottom", command="true", dependencies=[left["id"], right["id"]])
        runs = [api.trigger(task["id"]) for task in (shell, python, http, top)]

        done = [api.wait_run(run["id"], {"succeeded", "failed"}, timeout=30) for run in runs]
        fired = wait_for(
            lambda: (
                len(ran := [r for r in api.runs_of(tick["id"]) if r["status"] == "succeeded"]) >= 2
                and ran[:2]
            ),
            timeout=20,
            what="two cron fires run by the workers",
        )
        bottom_run = wait_for(
            lambda: [r for r in api.runs_of(bottom["id"]) if r["status"] == "succeeded"],
            timeout=30,
            what="the diamond to complete",
        )[0]
        workers = {worker["id"]: worker for worker in client.get("/api/v1/workers").json()["items"]}

    assert [run["status"] for run in done] == ["succeeded"] * 4, [run["error_message"] for run in done]
    assert bottom_run["wave_id"] == runs[3]["id"]
    assert done[0]["result"]["stdout"] == f"from {runs[0]['id']}\n"
    assert done[1]["result"]["return_value"] == "a b [...]"
    assert done[2]["result"]["status_code"] == 200
    assert {run["worker_id"] for run in [*done, *fired]} <= {"w-a", "w-b"}
    assert {workers["w-a"]["status"], workers["w-b"]["status"]} == {"online"}


def test_a_worker_killed_mid_run_is_replaced_and_the_run_succeeds_once(cluster: Cluster) -> None:
    key = make_key(cluster.env, cluster.workdir, "worker")
    first = cluster.worker("w-a", key)
    with cluster.api.client() as client:
        api = Api(client)
        task = api.create_task(name="slow", command="sleep 5", max_retries=2, retry_backoff_seconds=0.1)
        run = api.trigger(task["id"])
        api.wait_run(run["id"], {"running"}, timeout=20)

        first.stop(sig=signal.SIGKILL)
        cluster.worker("w-b", key)

        final = wait_for(
            lambda: [r for r in api.runs_of(task["id"]) if r["status"] == "succeeded"],
            timeout=40,
            what="the retry to succeed on the other worker",
        )
        history = api.runs_of(task["id"])

    assert len(final) == 1
    assert final[0]["worker_id"] == "w-b"
    lost = [r for r in history if r["status"] == "failed"]
    assert lost
    assert all("worker_lost" in r["error_message"] for r in lost)
    assert lost[0]["worker_id"] == "w-a"


def test_cancelling_a_running_task_reaches_its_worker_process(cluster: Cluster) -> None:
    cluster.worker("w-a", make_key(cluster.env, cluster.workdir, "worker"))
    with cluster.api.client() as client:
        api = Api(client)
        task = api.create_task(name="endless", command="sleep 60")
        run = api.trigger(task["id"])
        api.wait_run(run["id"], {"running"}, timeout=20)

        asked = time.monotonic()
        assert client.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 202
        done = api.wait_run(run["id"], {"cancelled", "failed", "succeeded"}, timeout=15)

    assert done["status"] == "cancelled"
    assert time.monotonic() - asked < 5


@pytest.mark.parametrize(("role", "status"), [(None, "401"), ("readonly", "403")])
def test_a_worker_with_a_bad_key_is_refused_in_one_line(
    cluster: Cluster, role: str | None, status: str
) -> None:
    key = make_key(cluster.env, cluster.workdir, role) if role else "sk_not_a_key"
    env = {**cluster.env, "SCHEDULER_WORKER__API_KEY": key}

    result = scheduler("worker", "--api-url", cluster.api.url, env=env, cwd=cluster.workdir)

    line = refusal_line(result)
    assert ("worker role" if status == "403" else "SCHEDULER_WORKER__API_KEY") in line


def test_a_worker_id_another_worker_key_holds_is_refused_in_one_line(cluster: Cluster) -> None:
    cluster.worker("w-held", make_key(cluster.env, cluster.workdir, "worker"))
    env = {**cluster.env, "SCHEDULER_WORKER__API_KEY": make_key(cluster.env, cluster.workdir, "worker")}

    result = scheduler(
        "worker", "--worker-id", "w-held", "--api-url", cluster.api.url, env=env, cwd=cluster.workdir
    )

    line = refusal_line(result)
    assert "409" in line
    assert "under another worker key" in line
