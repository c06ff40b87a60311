"""Several `scheduler dispatcher` processes on one PostgreSQL: failover, exactly-once fires, recovery.

Every test runs its own cluster on a private schema and Redis namespace, with short lease,
sweep and worker timeouts so that what takes seconds in production takes a second here.
"""

from __future__ import annotations

import itertools
import json
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.cluster import RoleProcess, broker_namespace, cluster_env, private_schema, scheduler
from tests.e2e.standalone import Api, wait_for

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 2.0
RENEW_INTERVAL = LEASE_SECONDS / 3
HA_SETTINGS = {
    "SCHEDULER_DISPATCHER__LEASE_SECONDS": str(LEASE_SECONDS),
    "SCHEDULER_DISPATCHER__SCAN_INTERVAL_SECONDS": "0.2",
    "SCHEDULER_DISPATCHER__SWEEP_INTERVAL_SECONDS": "0.5",
    "SCHEDULER_DISPATCHER__WORKER_TIMEOUT_SECONDS": "2",
}


class Cluster:
    """A migrated private schema and broker namespace, and the role processes started on them."""

    def __init__(self, database_url: str, env: dict[str, str], workdir: Path) -> None:
        self.database_url = database_url
        self.env = env
        self.workdir = workdir
        self.processes: list[RoleProcess] = []

    def start(self, role: str, count: int = 1) -> list[RoleProcess]:
        """Start `count` processes of `role` at once; returns them once all are ready."""
        made = [RoleProcess(role, self.workdir, self.env) for _ in range(count)]
        self.processes += made
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(RoleProcess.start, made))
        return made

    def sql(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of `query` on the cluster's schema."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(query, params).fetchall()

    def lease(self) -> tuple[str, datetime] | None:
        """The dispatchers' lease as stored: holder and expiry (by the server's clock), if any."""
        rows = self.sql("SELECT holder, expires_at FROM leases WHERE name = 'dispatcher'")
        return (rows[0][0], rows[0][1]) if rows else None

    def stop_all(self) -> None:
        for process in self.processes:
            if process.process is not None and process.process.poll() is None:
                process.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with private_schema() as database_url, broker_namespace("redis") as namespace:
        env = {**cluster_env(database_url, "redis", namespace), **HA_SETTINGS}
        migrated = scheduler("migrate", env=env, cwd=tmp_path)
        assert migrated.returncode == 0, migrated.stderr
        made = Cluster(database_url, env, tmp_path)
        try:
            yield made
        finally:
            made.stop_all()


def log_events(process: RoleProcess, event: str) -> list[dict[str, Any]]:
    """The JSON log lines of `process` whose message is `event`."""
    found = []
    for line in process.logs().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("event") == event:
            found.append(record)
    return found


def holder_of(process: RoleProcess) -> str | None:
    """The lease holder id `process` logged when it gained leadership, if it ever did."""
    gained = log_events(process, "gained leadership")
    return gained[-1]["holder"] if gained else None


def leader_among(processes: list[RoleProcess], holder: str) -> RoleProcess:
    """The process that holds the lease as `holder`; it logs so just after the lease is committed."""
    return wait_for(
        lambda: next((process for process in processes if holder_of(process) == holder), None),
        timeout=5,
        what=f"the process holding the lease as {holder} to log its leadership",
    )


def test_another_dispatcher_takes_over_when_the_leader_is_killed(cluster: Cluster) -> None:
    dispatchers = cluster.start("dispatcher", 3)
    holder, _ = wait_for(cluster.lease, timeout=10, what="a dispatcher to take the lease")
    leader = leader_among(dispatchers, holder)
    others = [d for d in dispatchers if d is not leader]

    assert leader.process is not None
    leader.process.kill()  # SIGKILL: no release, the lease has to expire
    leader.process.wait()
    killed_at = time.monotonic()
    new_holder, _ = wait_for(
        lambda: (lease := cluster.lease()) and lease[0] != holder and lease,
        timeout=LEASE_SECONDS * 3,
        what="another dispatcher to take the lease over",
    )
    took_over_after = time.monotonic() - killed_at

    # the dead leader had renewed at most RENEW_INTERVAL before the kill; a standby asks every
    # RENEW_INTERVAL, so it holds the lease at most one interval after the old one expired
    assert took_over_after < LEASE_SECONDS + RENEW_INTERVAL + 0.5, took_over_after
    successor = leader_among(others, new_holder)
    assert successor.process is not None
    assert successor.process.poll() is None

    # a clean stop releases the lease at once, and the last standby takes it at its next renewal
    assert successor.stop() == 0, successor.logs()
    assert log_events(successor, "released leadership")
    last = next(d for d in others if d is not successor)
    released_at = time.monotonic()
    wait_for(lambda: holder_of(last), timeout=LEASE_SECONDS * 2, what="the last dispatcher to lead")
    assert time.monotonic() - released_at < RENEW_INTERVAL + 1.0


def test_three_dispatchers_fire_every_second_exactly_once_even_when_one_is_killed(cluster: Cluster) -> None:
    (api_process,) = cluster.start("api")
    dispatchers = cluster.start("dispatcher", 3)
    with api_process.client() as client:
        api = Api(client)
        tasks = [api.create_task(name=f"tick-{n}", command="true", schedule="* * * * * *") for n in range(50)]
        time.sleep(10)  # the schedule runs for 20 s: a dispatcher is killed half-way
        victim = dispatchers[1]
        assert victim.process is not None
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        time.sleep(10)
        for task in tasks:
            assert client.post(f"/api/v1/tasks/{task['id']}/pause").status_code == 200

    fires = cluster.sql(
        "SELECT task_id, scheduled_for, count(*) FROM task_runs WHERE trigger = 'schedule' "
        "GROUP BY task_id, scheduled_for ORDER BY task_id, scheduled_for"
    )
    assert fires, "no run was fired"
    assert [row for row in fires if row[2] != 1] == [], "a fire made more than one run"
    by_task: dict[int, list[datetime]] = {}
    for task_id, scheduled_for, _ in fires:
        by_task.setdefault(task_id, []).append(scheduled_for)
    assert set(by_task) == {task["id"] for task in tasks}
    for task_id, moments in by_task.items():
        steps = {(later - earlier).total_seconds() for earlier, later in itertools.pairwise(moments)}
        assert steps == {1.0}, f"task {task_id} has a gap between fires: {sorted(steps)}"
        assert len(moments) >= 18, f"task {task_id} fired only {len(moments)} times in ~20 s"
    for survivor in (dispatchers[0], dispatchers[2]):
        survivor.check_alive()


def test_the_running_run_of_a_worker_that_stops_heartbeating_fails_and_is_retried(cluster: Cluster) -> None:
    (api_process,) = cluster.start("api")
    cluster.start("dispatcher")
    with api_process.client() as client:
        api = Api(client)
        registered = client.post(
            "/api/v1/workers",
            json={
                "id": "doomed-worker",
                "hostname": "nowhere",
                "ip_address": "127.0.0.1",
                "port": 0,
                "task_types": ["shell"],
                "max_concurrent_tasks": 1,
            },
        )
        assert registered.status_code == 201, registered.text
        task = api.create_task(name="long", command="sleep 600", max_retries=1, retry_backoff_seconds=0)
        run = api.wait_run(api.trigger(task["id"])["id"], {"queued"}, timeout=10)
        # No worker process exists in this milestone: play the worker's start report with SQL,
        # as `RunLifecycle.start` would store it, on the test's private schema. The worker beats
        # as it starts the run, in the same statement: its registration is older than the worker
        # timeout by now on a slow machine, and the sweep ends the runs of a worker only as it
        # marks it offline, never those a worker already offline is found running.
        started = cluster.sql(
            "WITH beat AS (UPDATE workers SET status = 'online', last_heartbeat = now() "
            "WHERE id = 'doomed-worker' RETURNING id) "
            "UPDATE task_runs SET status = 'running', worker_id = beat.id, started_at = now() FROM beat "
            "WHERE task_runs.id = %s AND task_runs.status = 'queued' RETURNING task_runs.id",
            (run["id"],),
        )
        assert started == [(run["id"],)]

        # the worker never beats again: after worker_timeout_seconds (2) the leader's sweep ends it
        failed = api.wait_run(run["id"], {"failed"}, timeout=10)
        attempts = wait_for(
            lambda: len(runs := api.runs_of(task["id"])) == 2 and runs,
            timeout=5,
            what="the retry of the lost run",
        )
        # the sweep ends the worker's runs first and marks the worker offline after
        worker = wait_for(
            lambda: (
                (found := client.get("/api/v1/workers/doomed-worker").json())["status"] == "offline" and found
            ),
            timeout=5,
            what="the sweep to mark the silent worker offline",
        )

    assert "worker_lost" in failed["error_message"]
    retry = next(r for r in attempts if r["id"] != run["id"])
    assert (retry["attempt"], retry["trigger"]) == (2, "retry")
    assert retry["status"] in ("pending", "queued")
    assert worker["status"] == "offline"
