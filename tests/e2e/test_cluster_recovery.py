"""Recovery and scheduling rules with separate processes: lost messages, misfires, DAGs, drains."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from tests.e2e.cluster import (
    BROKER_URLS,
    WORKER_SETTINGS,
    RoleProcess,
    broker_namespace,
    make_key,
    private_schema,
    scheduler,
)
from tests.e2e.standalone import Api, wait_for
from tests.e2e.test_cluster_workers import Cluster

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """api + one dispatcher on PostgreSQL and Redis, with fast recovery settings; no worker yet."""
    with private_schema() as database_url, broker_namespace("redis") as namespace:
        env = {
            "SCHEDULER_DATABASE__URL": database_url,
            "SCHEDULER_QUEUE__URL": BROKER_URLS["redis"],
            "SCHEDULER_QUEUE__NAMESPACE": namespace,
            "SCHEDULER_DISPATCHER__REQUEUE_AFTER_SECONDS": "2",
            "SCHEDULER_DISPATCHER__MISFIRE_GRACE_SECONDS": "1",
            **WORKER_SETTINGS,
        }
        assert scheduler("migrate", env=env, cwd=tmp_path).returncode == 0
        api = RoleProcess("api", tmp_path, env).start()
        built = Cluster(env, tmp_path, api, [api])
        try:
            yield built
        finally:
            for process in reversed(built.processes):
                process.stop(timeout=20)


def start_dispatcher(cluster: Cluster) -> RoleProcess:
    process = RoleProcess("dispatcher", cluster.workdir, cluster.env).start()
    cluster.processes.append(process)
    return process


def test_a_run_whose_message_the_broker_lost_is_published_again_and_completes(redis_cluster: Cluster) -> None:
    start_dispatcher(redis_cluster)
    namespace = redis_cluster.env["SCHEDULER_QUEUE__NAMESPACE"]
    with redis_cluster.api.client() as client:
        api = Api(client)
        task = api.create_task(name="lost", command="echo found")
        run = api.trigger(task["id"])
        api.wait_run(run["id"], {"queued"}, timeout=10)
        broker = redis.Redis.from_url(BROKER_URLS["redis"])
        # A claim marks the run queued in its own commit; the publish to Redis follows it.
        lost = wait_for(
            lambda: list(broker.scan_iter(match=f"{namespace}mq:task.shell:*")),
            timeout=10,
            what="the run's message to reach a Redis stream",
        )
        broker.delete(*lost)  # as a Redis restart without persistence would
        broker.close()

        redis_cluster.worker("w-a", make_key(redis_cluster.env, redis_cluster.workdir, "worker"))
        done = api.wait_run(run["id"], {"succeeded", "failed"}, timeout=30)

    assert done["status"] == "succeeded"
    assert done["result"]["stdout"] == "found\n"


def test_misfire_policies_after_a_dispatcher_outage(redis_cluster: Cluster) -> None:
    # Hourly at the minute half an hour from now: no fire falls due on time while the test runs,
    # which would be a plain fire, not a missed one.
    minute = (datetime.now(UTC).minute + 30) % 60
    hourly = f"{minute} * * * *"
    with redis_cluster.api.client() as client:
        api = Api(client)
        once = api.create_task(name="once", command="true", schedule=hourly, misfire_policy="run_once")
        skip = api.create_task(name="skip", command="true", schedule=hourly, misfire_policy="skip")
        # The outage: no dispatcher ran for three hours. Set in the database, since the API (rightly)
        # offers no way to move a task's next fire into the past.
        with psycopg.connect(redis_cluster.env["SCHEDULER_DATABASE__URL"], autocommit=True) as db:
            db.execute("UPDATE tasks SET next_run_at = now() - interval '3 hours'")
        start_dispatcher(redis_cluster)

        def planned(task: dict[str, Any]) -> bool:
            next_run = api.http.get(f"/api/v1/tasks/{task['id']}").json()["next_run_at"]
            return datetime.fromisoformat(next_run) > datetime.now(UTC)

        wait_for(
            lambda: planned(once) and planned(skip), timeout=15, what="the dispatcher to plan both tasks"
        )
        once_runs, skip_runs = api.runs_of(once["id"]), api.runs_of(skip["id"])

    assert skip_runs == []
    assert len(once_runs) == 1, "run_once runs the latest missed fire exactly once"
    caught_up = datetime.fromisoformat(once_runs[0]["scheduled_for"])
    assert (caught_up.minute, caught_up.second) == (minute, 0)
    assert (datetime.now(UTC) - caught_up).total_seconds() < 3600 + 60


def test_a_diamond_completes_in_order_across_processes(redis_cluster: Cluster) -> None:
    start_dispatcher(redis_cluster)
    redis_cluster.worker("w-a", make_key(redis_cluster.env, redis_cluster.workdir, "worker"))
    with redis_cluster.api.client() as client:
        api = Api(client)
        a = api.create_task(name="A", command="echo A")
        b = api.create_task(name="B", command="echo B", dependencies=[a["id"]])
        c = api.create_task(name="C", command="echo C", dependencies=[a["id"]])
        d = api.create_task(name="D", command="echo D", dependencies=[b["id"], c["id"]])
        root = api.trigger(a["id"])
        runs = {
            name: wait_for(
                lambda task=task: [r for r in api.runs_of(task["id"]) if r["status"] == "succeeded"],
                timeout=30,
                what=f"{name} to succeed",
            )[0]
            for name, task in (("A", a), ("B", b), ("C", c), ("D", d))
        }
        d_runs = api.runs_of(d["id"])

    assert {run["wave_id"] for run in runs.values()} == {root["id"]}
    assert runs["A"]["completed_at"] <= min(runs["B"]["started_at"], runs["C"]["started_at"])
    assert max(runs["B"]["completed_at"], runs["C"]["completed_at"]) <= runs["D"]["started_at"]
    assert len(d_runs) == 1


def test_sigterm_on_a_busy_worker_loses_nothing_and_runs_nothing_twice(redis_cluster: Cluster) -> None:
    start_dispatcher(redis_cluster)
    key = make_key(redis_cluster.env, redis_cluster.workdir, "worker")
    first = redis_cluster.worker("w-a", key)
    with redis_cluster.api.client() as client:
        api = Api(client)
        task = api.create_task(name="long", command="sleep 30", max_retries=1, retry_backoff_seconds=0.1)
        quick = api.create_task(name="quick", command="sleep 0.5")
        long_run = api.trigger(task["id"])
        quick_run = api.trigger(quick["id"])
        api.wait_run(long_run["id"], {"running"}, timeout=15)

        assert first.stop(sig=signal.SIGTERM, timeout=30) == 0
        # The worker exits once the broker holds its report; a dispatcher applies it after.
        stopped = api.wait_run(long_run["id"], {"failed", "succeeded", "cancelled", "timed_out"}, timeout=15)
        redis_cluster.worker("w-b", key)
        quick_done = api.wait_run(quick_run["id"], {"succeeded", "failed"}, timeout=30)
        retry = wait_for(
            lambda: [r for r in api.runs_of(task["id"]) if r["attempt"] == 2 and r["status"] == "running"],
            timeout=30,
            what="the interrupted run's retry to start on the other worker",
        )[0]

    assert quick_done["status"] == "succeeded"
    assert stopped["status"] == "failed"
    assert stopped["error_message"] == "worker shutting down"
    assert retry["worker_id"] == "w-b"
